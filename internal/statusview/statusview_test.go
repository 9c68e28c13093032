package statusview

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
)

func f64(v float64) *float64 { return &v }

func TestQuantile(t *testing.T) {
	h := []api.RTTBucket{{LeMs: f64(1), Count: 0}, {LeMs: f64(2), Count: 50}, {LeMs: f64(4), Count: 49}, {LeMs: nil, Count: 1}}
	for _, c := range []struct {
		q    float64
		want float64
	}{
		{0.5, 2},    // the 50th of 100 is the last of (1, 2]
		{0.25, 1.5}, // halfway into (1, 2]
		{0.99, 4},   // the 99th: the last of (2, 4]
		{0.995, 4},  // in the open last bucket: its lower bound
	} {
		got := Quantile(h, c.q)
		if got == nil || math.Abs(*got-c.want) > 1e-9 {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if Quantile(nil, 0.5) != nil || Quantile([]api.RTTBucket{{LeMs: f64(1)}}, 0.5) != nil {
		t.Error("a quantile without samples")
	}
}

// fakeAPI answers GETs from a map of path -> JSON value.
type fakeAPI map[string]any

func (f fakeAPI) Get(_ context.Context, path string, out any) error {
	v, ok := f[path]
	if !ok {
		return fmt.Errorf("GET %s: not found", path)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}

func (f fakeAPI) Health(ctx context.Context) (api.HealthReport, error) {
	var h api.HealthReport
	err := f.Get(ctx, "/health", &h)
	return h, err
}

var t0 = time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)

func gatewayAPI() fakeAPI {
	return fakeAPI{
		"/health": api.HealthReport{Status: api.StatusDegraded, Checks: []api.HealthCheck{{Name: "bond0", OK: false, Detail: "tap2 is down"}}},
		"/v1/client/status": api.ClientStatusResponse{Started: true, Clients: []api.ClientStatus{{Bond: "bond0", Address: "10.8.0.253/24", ServerAPIURL: "https://192.0.2.1:3333", Driver: "ebpf", TunnelMode: "tls", Present: true, Active: "tap1",
			Links: []api.ClientLink{{Tap: "tap1", Running: true, Up: true}, {Tap: "tap2", Running: true, Up: false, Restarts: 3}}}}},
		"/v1/server/status": api.ServerStatusResponse{},
		"/v1/client/links": []api.LinkStats{
			{Bond: "bond0", Link: "tap1", RTT: api.LinkRTT{Smoothed: f64(1.25)}, Histogram: []api.RTTBucket{{LeMs: f64(1), Count: 10}, {LeMs: f64(2), Count: 10}}},
			{Bond: "bond0", Link: "tap2", Loss: 1},
		},
		"/v1/client/policy/bond0": api.PolicyStatus{FailoverStatus: api.FailoverStatus{Bond: "bond0", Active: "tap1", Links: []api.FailoverLink{
			{Link: "tap1", State: api.LinkUp, Reason: "healthy", Since: t0.Add(-90 * time.Second)},
			{Link: "tap2", State: api.LinkDown, Reason: "no reply for 61ms (dead time 60ms)", Since: t0.Add(-5 * time.Second)},
		}}},
		"/v1/client/events?bond=bond0&limit=512": []api.Event{
			{At: t0.Add(-100 * time.Second), Bond: "bond0", Kind: api.EventSwitch, From: "tap1", To: "tap2", Reason: "down", DetectionMs: f64(61), SwitchMs: f64(0.1)},
			{At: t0.Add(-90 * time.Second), Bond: "bond0", Kind: api.EventSwitch, From: "tap2", To: "tap1", Reason: "failback", Detail: "up again"},
			{At: t0.Add(-5 * time.Second), Bond: "bond0", Kind: api.EventState, Link: "tap2", State: api.LinkDown},
		},
	}
}

// TestTakeAndRender: a gateway's answers become one screen: health and
// its failed checks, the bond, the active link marked, each link's
// state, time in it, RTT figures, loss and tunnel, the last switch.
func TestTakeAndRender(t *testing.T) {
	s, err := Take(context.Background(), gatewayAPI(), "https://127.0.0.1:3333")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Bonds) != 1 || len(s.Bonds[0].Links) != 2 || s.Bonds[0].LastSwitch == nil || s.Bonds[0].LastSwitch.Reason != "failback" {
		t.Fatalf("snapshot %+v", s)
	}
	var b strings.Builder
	if err := Render(&b, s, t0); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		"multilink at https://127.0.0.1:3333: degraded",
		"! bond0: tap2 is down",
		"gateway bond bond0  10.8.0.253/24  driver ebpf  tunnels tls  hub https://192.0.2.1:3333",
		"active tap1",
		"last switch 1m30s ago: tap2 -> tap1 (failback): up again",
		"tap1 *  up     1m30s  1.25ms  1.00ms  1.98ms  0.0%    running",
		"tap2    down   5s     -       -       -       100.0%  down (3 restarts)  no reply for 61ms (dead time 60ms)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("screen lacks %q:\n%s", want, got)
		}
	}
}

func TestRenderHub(t *testing.T) {
	s := Snapshot{URL: "u", Health: api.HealthReport{Status: api.StatusOK}, Bridges: []Bridge{{api.ServerStatus{Bridge: "br0", BridgeIP: "10.8.0.254/24", TunnelMode: "tls",
		Links:  []api.ServerLink{{Tap: "tap1", Port: 1191, Running: true, Up: true}, {Tap: "tap2", Port: 1192}},
		Holder: &api.Holder{GatewayID: "gw-1", Bond: "bond0", Fingerprint: "sha256//abcdefghijklmnopqrstuvwxyz", Since: t0.Add(-time.Hour)}}}}}
	var b strings.Builder
	if err := Render(&b, s, t0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hub bridge br0  10.8.0.254/24  tunnels tls", "held by gateway gw-1, bond bond0, for 1h0m0s",
		"tap1  1191  running", "tap2  1192  stopped", "sha256//abcdefghijk…"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("screen lacks %q:\n%s", want, b.String())
		}
	}
}

func TestEventLine(t *testing.T) {
	sw := EventLine(api.Event{At: t0, Bond: "bond0", Kind: api.EventSwitch, From: "tap1", To: "tap2", Reason: "down", Detail: "no reply for 61ms", DetectionMs: f64(61), SwitchMs: f64(0.2)})
	if !strings.HasSuffix(sw, "bond0  switch  tap1 -> tap2 (down, detected in 61 ms, moved in 0 ms): no reply for 61ms") {
		t.Errorf("switch line %q", sw)
	}
	st := EventLine(api.Event{At: t0, Bond: "bond0", Kind: api.EventState, Link: "tap2", State: api.LinkDegraded, Detail: "loss 20%"})
	if !strings.HasSuffix(st, "bond0  state   tap2 degraded: loss 20%") {
		t.Errorf("state line %q", st)
	}
}
