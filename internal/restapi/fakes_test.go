package restapi

import (
	"context"
	"sync"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/failover"
	"github.com/multilink/multilink/internal/probe"
	"github.com/multilink/multilink/internal/testsupport"
)

// fakes are the API's dependencies, every call recorded in one Recorder:
// the shared fake hub and gateway, answering (these tests judge what
// reaches a role, not what a role does), and the API's own fakes below.
type fakes struct {
	*testsupport.Recorder
	hub *testsupport.FakeHub
	gw  *testsupport.FakeGateway

	mu     sync.Mutex
	ping   api.PingRequest
	report api.HealthReport
	live   chan api.Event // what WatchEvents delivers after the kept events
}

type fakeTaps struct{ *fakes }

func (f fakeTaps) SetTap(_ context.Context, tap string, up bool) error {
	return f.Record("taps.SetTap %s %t", tap, up)
}

type fakePinger struct{ *fakes }

func (f fakePinger) Ping(_ context.Context, r api.PingRequest) (api.PingResult, error) {
	err := f.Record("pinger.Ping %s", r.IP)
	f.mu.Lock()
	f.ping = r
	f.mu.Unlock()
	if err != nil {
		return api.PingResult{}, err
	}
	return api.PingResult{IP: r.IP.String(), Sent: 4, Received: 4, MinMs: 0.1, AvgMs: 0.2, MaxMs: 0.3}, nil
}

type fakeHealth struct{ *fakes }

func (f fakeHealth) Health(context.Context) api.HealthReport {
	_ = f.Record("health.Health")
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.report
}

// fakeLinks answers two probed links of bond0 and one of bond1.
type fakeLinks struct{ *fakes }

func (f fakeLinks) Links() []api.LinkStats {
	_ = f.Record("links.Links")
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
type fakeFailover struct{ *fakes }

func (f fakeFailover) status(bond string) api.PolicyStatus {
	return api.PolicyStatus{FailoverStatus: api.FailoverStatus{Bond: bond, Active: "tap1", Priority: []string{"tap1", "tap2"},
		Failovers: map[string]uint64{}, Policy: failover.DefaultPolicy().View()}, ProbeIntervalMs: 20, BackupIntervalMs: 1000}
}

func (f fakeFailover) Policy(_ context.Context, bond string) (api.PolicyStatus, error) {
	if err := f.Record("failover.Policy %s", bond); err != nil {
		return api.PolicyStatus{}, err
	}
	if bond != "bond0" {
		return api.PolicyStatus{}, errkind.NotFound("no client with bond %s is started", bond)
	}
	return f.status(bond), nil
}

func (f fakeFailover) SetPolicy(_ context.Context, bond string, body []byte) (api.PolicyStatus, error) {
	if err := f.Record("failover.SetPolicy %s %s", bond, body); err != nil {
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
	_ = f.Record("failover.Events %s %d", bond, limit)
	e := failover.Event{Bond: "bond0", Kind: api.EventSwitch, From: "tap1", To: "tap2", Reason: failover.ReasonDown, Signal: api.SignalLossRun, Detection: 61 * time.Millisecond}
	return []api.Event{e.API()}
}

// WatchEvents is Events, then what the test sends on live.
func (f fakeFailover) WatchEvents(ctx context.Context, bond string, limit int) ([]api.Event, <-chan api.Event, func() bool) {
	past := f.Events(bond, limit)
	out := make(chan api.Event)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case e := <-f.live:
				select {
				case out <- e:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return past, out, func() bool { return false }
}

// fakeDeps returns Deps whose every dependency records into one Recorder.
func fakeDeps(token string) (Deps, *fakes) {
	rec := &testsupport.Recorder{}
	f := &fakes{Recorder: rec, hub: testsupport.NewFakeHub(rec, testsupport.Answering),
		gw: testsupport.NewFakeGateway(rec, testsupport.Answering), report: api.HealthReport{Status: api.StatusOK}, live: make(chan api.Event)}
	return Deps{
		Hub:      f.hub,
		Gateway:  f.gw,
		Taps:     fakeTaps{f},
		Pinger:   fakePinger{f},
		Health:   fakeHealth{f},
		Links:    fakeLinks{f},
		Failover: fakeFailover{f},
		Version:  "1.2.3-test",
		Token:    token,
		Insecure: token == "",
	}, f
}
