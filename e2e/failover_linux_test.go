package e2e

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/multilink/multilink/internal/demo"
	"github.com/multilink/multilink/internal/impairment"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// TestFailoverAPI: with each driver, the probe's figures, the failover
// events, the metrics and the policy endpoint show what really happens
// when the primary is cut, and a pin moves traffic.
func TestFailoverAPI(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			tp := newTopology(t)
			_, gw := scenario(t, tp, specClientBody(t), driver)

			var links []struct {
				Link   string `json:"link"`
				Active bool   `json:"active"`
				RTT    struct {
					Smoothed *float64 `json:"smoothed_ms"`
				} `json:"rtt"`
				Counters struct {
					ProbeReplies uint64 `json:"probe_replies"`
				} `json:"counters"`
			}
			if !waitFor(t, 20*time.Second, 200*time.Millisecond, func() bool {
				if code := gw.callAuth(http.MethodGet, "/v1/client/links", nil, &links, false); code != http.StatusOK {
					t.Fatalf("links: %d", code)
				}
				return len(links) == 2 && links[0].RTT.Smoothed != nil && links[1].RTT.Smoothed != nil
			}) {
				t.Fatalf("links without RTTs after 20 s: %+v", links)
			}
			if links[0].Link != "tap1" || !links[0].Active {
				t.Errorf("links %+v: want tap1 probed as the active one", links)
			}

			cut := time.Now()
			setLink(t, tp.hub, "u1", false)
			waitActive(t, gw, "tap2", 30*time.Second)
			var events []struct {
				At          time.Time `json:"at"`
				Kind        string    `json:"kind"`
				From        string    `json:"from"`
				To          string    `json:"to"`
				Reason      string    `json:"reason"`
				DetectionMs float64   `json:"detection_ms"`
			}
			// The engine records a switch once the bond has made it, so
			// the bond may show tap2 a moment before the event exists.
			var sw []string
			waitFor(t, 5*time.Second, 100*time.Millisecond, func() bool {
				if code := gw.callAuth(http.MethodGet, "/v1/client/events?bond=bond0", nil, &events, false); code != http.StatusOK {
					t.Fatalf("events: %d", code)
				}
				for _, e := range events {
					if e.Kind == "switch" && !e.At.Before(cut) {
						sw = append(sw, e.From+">"+e.To+":"+e.Reason)
					}
				}
				return len(sw) > 0
			}) // none within 5 s: the check below says so
			// The engine's own switch; on the kernel bond its ARP monitor
			// may come first on a starved host (the lab's VMs side by
			// side: the engine stretches its dead time there), which the
			// engine records as the bond's own switch and then judges
			// the link it left (the link state checked below).
			reason := "down"
			if driver == "kernel" && len(sw) == 1 && sw[0] == "tap1>tap2:kernel" {
				reason = "kernel"
				t.Logf("the kernel bond's ARP monitor switched before the engine")
			}
			if len(sw) != 1 || sw[0] != "tap1>tap2:"+reason {
				t.Errorf("switches after the cut %v, want one: tap1>tap2:down", sw)
			}
			t.Logf("switched to tap2 %v after the cut; switches since %v", time.Since(cut), sw)

			metrics := scrape(t, gw)
			for _, want := range []string{
				`multilink_active_link{bond="bond0",link="tap2"} 1`,
				`multilink_link_state{bond="bond0",link="tap1",state="down"} 1`,
				`multilink_bond_info{bond="bond0",driver="` + driver + `"} 1`,
				`multilink_link_rtt_seconds_bucket{bond="bond0",link="tap2",le="+Inf"}`,
			} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
			if n := metricValue(t, metrics, `multilink_failovers_total{bond="bond0",reason="`+reason+`"}`); n < 1 {
				t.Errorf("multilink_failovers_total for reason %s is %v, want at least 1", reason, n)
			}

			// A pin moves traffic, even to a link that is down, until released.
			setLink(t, tp.hub, "u1", true)
			waitActive(t, gw, "tap1", 30*time.Second)
			if code := gw.call(http.MethodPut, "/v1/client/policy/bond0", []byte(`{"pin": "tap2", "policy": {"hold_down_ms": 500}}`), nil); code != http.StatusOK {
				t.Fatalf("pin: %d", code)
			}
			waitActive(t, gw, "tap2", 10*time.Second)
			pingOK(t, tp.gw, topology.HubTunnel)
			pingOK(t, tp.hub, topology.GwTunnel)
			var pol struct {
				Pin    string `json:"pin"`
				Policy struct {
					HoldDownMs float64 `json:"hold_down_ms"`
				} `json:"policy"`
			}
			gw.callAuth(http.MethodGet, "/v1/client/policy/bond0", nil, &pol, false)
			if pol.Pin != "tap2" || pol.Policy.HoldDownMs != 500 {
				t.Errorf("policy after PUT: %+v", pol)
			}
			if code := gw.call(http.MethodPut, "/v1/client/policy/bond0", []byte(`{"pin": "", "probe_interval_ms": "fast"}`), nil); code != http.StatusBadRequest {
				t.Errorf("bad policy: %d, want 400", code)
			}
			if code := gw.call(http.MethodPut, "/v1/client/policy/bond0", []byte(`{"pin": ""}`), nil); code != http.StatusOK {
				t.Fatalf("release: %d", code)
			}
			waitActive(t, gw, "tap1", 10*time.Second)
		})
	}
}

// metricValue is the value of the series named exactly series.
func metricValue(t testing.TB, metrics, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", series)
	return 0
}

// scrape returns the daemon's /metrics text.
func scrape(t testing.TB, d *daemon) string {
	t.Helper()
	code, body, err := d.Do(context.Background(), http.MethodGet, "/metrics", nil, false)
	if err != nil || code != http.StatusOK {
		t.Fatalf("scrape: %d %v", code, err)
	}
	return string(body)
}

// TestDegradedPrimary: with each driver, a primary that gets slow (+300 ms)
// or lossy (30 %) is left for tap2, and traffic comes back to it, without
// loss, once it is healthy again (the kernel bond with fail_over_mac none:
// see below). Behaviour only; the timings are in
// BenchmarkFailover. Needs netem (the kernel lab).
func TestDegradedPrimary(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			err := haveNetem(t)
			nstest.Require(t, err == nil, "no netem: %v", err)
			tp := newTopology(t)
			requireDriver(t, tp, driver)
			primary := &netemUnderlay{gw: tp.gw, hub: tp.hub, dev: "u1"}
			_, gw := scenario(t, tp, specClientBody(t), driver)
			if driver == "kernel" {
				// With the spec's fail_over_mac 1 the kernel bond's MAC
				// follows the active slave, and at a switch it sends a few
				// frames on the new slave with the old MAC; the probe takes
				// the hub's frames to that MAC on either TAP (host_macs), so
				// failback lost none in BenchmarkFailover on 6.1 and 6.12
				// (20 returns each). With none the bond keeps one MAC: this
				// test asserts its lossless return.
				if code := gw.call(http.MethodPut, "/v1/client/bond_params/bond0", []byte(`{"fail_over_mac": "none"}`), nil); code != http.StatusOK {
					t.Fatalf("PUT fail_over_mac none: %d", code)
				}
				waitSettled(t, gw)
			}
			up := startProber(t, tp.gw, topology.HubTunnel)
			down := startProber(t, tp.hub, topology.GwTunnel)
			// Hub to gateway only, as the bench's loss scenario.
			for _, impair := range []impairment.Impairment{{Delay: 300 * time.Millisecond}, {Loss: 0.3}} {
				must(t, primary.Set(impairment.Impairment{}, impair))
				waitActive(t, gw, "tap2", 10*time.Second)
				pingOK(t, tp.gw, topology.HubTunnel)
				pingOK(t, tp.hub, topology.GwTunnel)
				must(t, primary.Set(impairment.Impairment{}, impairment.Impairment{}))
				restored := time.Now()
				waitActive(t, gw, "tap1", 30*time.Second)
				back := time.Now()
				time.Sleep(2 * time.Second) // replies to the last requests arrive
				l1, s1 := up.Lost(restored, back.Add(time.Second))
				l2, s2 := down.Lost(restored, back.Add(time.Second))
				if l1+l2 != 0 {
					t.Errorf("%v: %d of %d echo requests lost while traffic returned to tap1 at +%v: gateway's sent at %v, hub's at %v", impair, l1+l2, s1+s2,
						back.Sub(restored).Round(time.Millisecond), sinceAll(restored, up.Unanswered(restored, back.Add(time.Second))), sinceAll(restored, down.Unanswered(restored, back.Add(time.Second))))
				}
				t.Logf("%v: left tap1, came back %v after the restore, lost %d/%d on the way back", impair, back.Sub(restored).Round(time.Millisecond), l1+l2, s1+s2)
			}
		})
	}
}

// sinceAll is each time's offset from t0, to the millisecond.
func sinceAll(t0 time.Time, ts []time.Time) []time.Duration {
	out := make([]time.Duration, len(ts))
	for i, at := range ts {
		out[i] = at.Sub(t0).Round(time.Millisecond)
	}
	return out
}

// TestHubFollowsSwitch: after a switch the hub bridge forwards to the
// bond's new link at once (the gratuitous ARP), so hub->gateway traffic
// does not wait for the gateway to send something.
func TestHubFollowsSwitch(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			tp := newTopology(t)
			_, gw := scenario(t, tp, specClientBody(t), driver)
			nstest.RequireCommand(t, "bridge")
			mac := bondMAC(t, tp)
			setLink(t, tp.hub, "u1", false)
			waitActive(t, gw, "tap2", 30*time.Second)
			mac = bondMAC(t, tp) // fail_over_mac 1: the kernel bond's MAC follows the active slave
			if waitFor(t, 2*time.Second, 20*time.Millisecond, func() bool { return hubPort(t, tp, mac) == "tap2" }) {
				return
			}
			t.Errorf("2 s after the switch the hub still has %s on %q, want tap2", mac, hubPort(t, tp, mac))
		})
	}
}

func bondMAC(t *testing.T, tp *testbed) string {
	t.Helper()
	l, err := tp.gw.Handle.LinkByName("bond0")
	if err != nil {
		t.Fatal(err)
	}
	return l.Attrs().HardwareAddr.String()
}

// hubPort is the hub bridge's port for mac ("" if unknown).
func hubPort(t *testing.T, tp *testbed, mac string) string {
	t.Helper()
	for _, line := range strings.Split(tp.hub.Run(t, "bridge", "fdb", "show", "br", "br0"), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == mac && f[1] == "dev" {
			return f[2]
		}
	}
	return ""
}

// testEchoInterval is the behaviour tests' echo stream: slower than the
// benchmark's 10 ms, since under TCG two 10 ms streams each way help
// saturate the lab VM, and a starved VM delays frames past the 500 ms
// receive grace that makes failback lossless. A lossy failback (frames in
// flight lost at the switch) still shows at this rate.
const testEchoInterval = 50 * time.Millisecond

// startProber runs an echo stream from ns to dst until the test ends.
func startProber(t *testing.T, ns *nstest.NS, dst string) *demo.Prober {
	t.Helper()
	return startEcho(t, ns, dst, testEchoInterval)
}

// startEcho runs an echo stream from ns to dst every interval until the
// test ends.
func startEcho(t testing.TB, ns *nstest.NS, dst string, interval time.Duration) *demo.Prober {
	t.Helper()
	p, err := demo.NewProber(netns.NsHandle(ns.Fd()), netip.MustParseAddr(dst), interval)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go p.Run(ctx)
	return p
}
