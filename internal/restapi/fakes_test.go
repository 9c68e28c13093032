package restapi

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/failover"
	"github.com/multilink/multilink/internal/probe"
)

// recorder collects the calls the fakes get, in order.
type recorder struct {
	mu    sync.Mutex
	calls []string
	// err, when set, is returned by every fake method that returns an error.
	err error
	// panics makes every recorded call panic.
	panics bool

	server api.Server
	client api.Client
	params api.BondParams
	ping   api.PingRequest
	report api.HealthReport
	hubs   []api.ServerStatus
	gws    []api.ClientStatus
}

func (r *recorder) add(format string, args ...any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
	if r.panics {
		panic("fake panics as told")
	}
	return r.err
}

func (r *recorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

type fakeHub struct{ *recorder }

func (f fakeHub) Start(_ context.Context, c api.Server) (api.ServerStatus, error) {
	err := f.add("hub.Start %s", c.BridgeInterface)
	f.mu.Lock()
	f.server = c
	f.mu.Unlock()
	if err != nil {
		return api.ServerStatus{}, err
	}
	return api.ServerStatus{Bridge: c.BridgeInterface, BridgeIP: c.BridgeIP.String(), Present: true}, nil
}

func (f fakeHub) Stop(_ context.Context, bridge string) error { return f.add("hub.Stop %s", bridge) }

func (f fakeHub) Status(context.Context) []api.ServerStatus {
	_ = f.add("hub.Status")
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hubs
}

func (f fakeHub) Key(_ context.Context, bridge string) (api.Key, error) {
	if err := f.add("api.Key %s", bridge); err != nil {
		return api.Key{}, err
	}
	return api.Key{Bridge: "br0", Key: "-----BEGIN OpenVPN Static key V1-----", Links: []api.KeyLink{{Tap: "tap1", Port: 1191}}}, nil
}

type fakeGateway struct{ *recorder }

func (f fakeGateway) Start(_ context.Context, c api.Client) (api.ClientStatus, error) {
	err := f.add("gateway.Start %s", c.Bond)
	f.mu.Lock()
	f.client = c
	f.mu.Unlock()
	if err != nil {
		return api.ClientStatus{}, err
	}
	return api.ClientStatus{Bond: c.Bond, Address: c.Address.String(), Present: true}, nil
}

func (f fakeGateway) Stop(_ context.Context, name string) error {
	return f.add("gateway.Stop %s", name)
}

func (f fakeGateway) Status(context.Context) []api.ClientStatus {
	_ = f.add("gateway.Status")
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gws
}

func (f fakeGateway) BondParams(_ context.Context, name string) (api.BondInfo, error) {
	if err := f.add("gateway.BondParams %s", name); err != nil {
		return api.BondInfo{}, err
	}
	return api.BondInfo{Name: name, Driver: "kernel", Up: true, Slaves: []string{"tap1", "tap2"}, Active: "tap1", Params: api.Defaults()}, nil
}

func (f fakeGateway) SetBondParams(_ context.Context, name string, p api.BondParams) (api.BondInfo, error) {
	err := f.add("gateway.SetBondParams %s", name)
	f.mu.Lock()
	f.params = p
	f.mu.Unlock()
	if err != nil {
		return api.BondInfo{}, err
	}
	return api.BondInfo{Name: name, Driver: "kernel", Up: true, Slaves: []string{"tap1", "tap2"}, Active: "tap1", Params: api.Defaults().Merge(p)}, nil
}

type fakeTaps struct{ *recorder }

func (f fakeTaps) SetTap(_ context.Context, tap string, up bool) error {
	return f.add("taps.SetTap %s %t", tap, up)
}

type fakePinger struct{ *recorder }

func (f fakePinger) Ping(_ context.Context, r api.PingRequest) (api.PingResult, error) {
	err := f.add("pinger.Ping %s", r.IP)
	f.mu.Lock()
	f.ping = r
	f.mu.Unlock()
	if err != nil {
		return api.PingResult{}, err
	}
	return api.PingResult{IP: r.IP.String(), Sent: 4, Received: 4, MinMs: 0.1, AvgMs: 0.2, MaxMs: 0.3}, nil
}

type fakeHealth struct{ *recorder }

func (f fakeHealth) Health(context.Context) api.HealthReport {
	_ = f.add("health.Health")
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.report
}

// fakeLinks answers two probed links of bond0 and one of bond1.
type fakeLinks struct{ *recorder }

func (f fakeLinks) Links() []api.LinkStats {
	_ = f.add("links.Links")
	var out []api.LinkStats
	for _, l := range []probe.LinkStats{
		{Bond: "bond0", Link: "tap1", Active: true, Interval: 20 * time.Millisecond, LastReplyAge: time.Millisecond, LastRxAge: -1,
			Figures: probe.Figures{RTTLast: time.Millisecond, RTTSmoothed: time.Millisecond, HasRTT: true}},
		{Bond: "bond0", Link: "tap2", Interval: time.Second, LastReplyAge: -1, LastRxAge: -1},
		{Bond: "bond1", Link: "tap3", Interval: time.Second, LastReplyAge: -1, LastRxAge: -1},
	} {
		out = append(out, l.API())
	}
	return out
}

// fakeFailover knows bond0.
type fakeFailover struct{ *recorder }

func (f fakeFailover) status(bond string) api.PolicyStatus {
	return api.PolicyStatus{FailoverStatus: api.FailoverStatus{Bond: bond, Active: "tap1", Priority: []string{"tap1", "tap2"},
		Failovers: map[string]uint64{}, Policy: failover.DefaultPolicy().View()}, ProbeIntervalMs: 20, BackupIntervalMs: 1000}
}

func (f fakeFailover) Policy(_ context.Context, bond string) (api.PolicyStatus, error) {
	if err := f.add("failover.Policy %s", bond); err != nil {
		return api.PolicyStatus{}, err
	}
	if bond != "bond0" {
		return api.PolicyStatus{}, errkind.NotFound("no client with bond %s is started", bond)
	}
	return f.status(bond), nil
}

func (f fakeFailover) SetPolicy(_ context.Context, bond string, body []byte) (api.PolicyStatus, error) {
	if err := f.add("failover.SetPolicy %s %s", bond, body); err != nil {
		return api.PolicyStatus{}, err
	}
	if bond != "bond0" {
		return api.PolicyStatus{}, errkind.NotFound("no client with bond %s is started", bond)
	}
	if _, _, err := failover.ParseRequest(body, failover.DefaultPolicy()); err != nil {
		return api.PolicyStatus{}, err
	}
	return f.status(bond), nil
}

func (f fakeFailover) Events(bond string, limit int) []api.Event {
	_ = f.add("failover.Events %s %d", bond, limit)
	e := failover.Event{Bond: "bond0", Kind: api.EventSwitch, From: "tap1", To: "tap2", Reason: failover.ReasonDown, Detection: 61 * time.Millisecond}
	return []api.Event{e.API()}
}

// fakeDeps returns Deps whose every dependency records into one recorder.
func fakeDeps(token string) (Deps, *recorder) {
	rec := &recorder{report: api.HealthReport{Status: api.StatusOK}}
	return Deps{
		Hub:      fakeHub{rec},
		Gateway:  fakeGateway{rec},
		Taps:     fakeTaps{rec},
		Pinger:   fakePinger{rec},
		Health:   fakeHealth{rec},
		Links:    fakeLinks{rec},
		Failover: fakeFailover{rec},
		Version:  "1.2.3-test",
		Token:    token,
		Insecure: token == "",
	}, rec
}
