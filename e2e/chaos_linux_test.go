package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/failover"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// TestChaosOpenVPNKilled (chaos): kill -9 of each OpenVPN process, on the
// hub's side and on the gateway's, the standby link's and the active
// one's, with an echo stream each way over the bond. Each time the link
// comes back up (the daemon's supervisor restarts the process and the
// session is made again) within chaosHeal, and the engine never blames
// the other, healthy link (no state change of it). The standby's death
// costs no echo; the active one's costs a failover and a failback, and
// what they lose is reported.
func TestChaosOpenVPNKilled(t *testing.T) {
	nstest.OneLabKernel(t)
	for _, driver := range splitDrivers() {
		t.Run(driver, func(t *testing.T) {
			tp := newTopology(t)
			hub, gw := scenario(t, tp, specClientBody(t), driver)
			waitSettled(t, gw)
			waitActive(t, gw, "tap1", 10*time.Second)
			up := startProber(t, tp.gw, topology.HubTunnel)
			down := startProber(t, tp.hub, topology.GwTunnel)
			time.Sleep(time.Second)
			for _, c := range []struct {
				side string
				d    *daemon
				tap  string
			}{{"gateway", gw, "tap2"}, {"hub", hub, "tap2"}, {"gateway", gw, "tap1"}, {"hub", hub, "tap1"}} {
				other := map[string]string{"tap1": "tap2", "tap2": "tap1"}[c.tap]
				began := time.Now()
				old := killOpenVPN(t, c.d.ns, c.tap)
				// Healed: a new openvpn runs for the link, the probe has had a
				// reply through it since it started, the engine has the link
				// up and traffic flows.
				var healed time.Duration
				var restarted time.Time
				if !waitFor(t, chaosHeal(), 100*time.Millisecond, func() bool {
					if restarted.IsZero() {
						if p := openvpnOf(t, c.d.ns, c.tap); p == 0 || p == old {
							return false
						}
						restarted = time.Now()
					}
					if st := linkStates(t, gw); st[c.tap].State != api.LinkUp || !up.Flowing(time.Now().Add(-time.Second)) {
						return false
					}
					if age := lastReplyAge(t, gw, c.tap); age < 0 || time.Now().Add(-age).Before(restarted) {
						return false
					}
					healed = time.Since(began)
					return true
				}) {
					t.Fatalf("%s's openvpn of %s killed: the link is not up again within %s (restarted: %t; engine: %+v)\nhub log:\n%s\ngateway log:\n%s",
						c.side, c.tap, chaosHeal(), !restarted.IsZero(), linkStates(t, gw), hub.Logs(60), gw.Logs(60))
				}
				waitActive(t, gw, "tap1", 30*time.Second)
				time.Sleep(2 * time.Second) // replies to the last requests arrive
				end := time.Now()
				l1, s1 := up.Lost(began, end.Add(-time.Second))
				l2, s2 := down.Lost(began, end.Add(-time.Second))
				t.Logf("%s's openvpn of %s (-9): up again %s later; lost %d/%d echoes", c.side, c.tap, healed.Round(time.Millisecond), l1+l2, s1+s2)
				for _, e := range events(t, gw, began, end) {
					if e.Kind == api.EventState && e.Link == other {
						t.Errorf("%s's openvpn of %s killed: the engine blamed the healthy %s: %s %s", c.side, c.tap, other, e.State, e.Detail)
					}
				}
				if c.tap == "tap2" && l1+l2 != 0 {
					t.Errorf("%s's openvpn of the standby killed: %d echoes lost, want 0 (gateway's sent at %v, hub's at %v)", c.side, l1+l2,
						sinceAll(began, up.Unanswered(began, end)), sinceAll(began, down.Unanswered(began, end)))
				}
			}
		})
	}
}

// killOpenVPN sends SIGKILL to the openvpn process of tap in ns and
// returns its pid.
func killOpenVPN(t testing.TB, ns *nstest.NS, tap string) int {
	t.Helper()
	pid := openvpnOf(t, ns, tap)
	if pid == 0 {
		t.Fatalf("no openvpn of %s in %s", tap, ns.Name)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 openvpn %d (%s): %v", pid, tap, err)
	}
	return pid
}

// openvpnOf is the pid of the openvpn process of tap in ns (its config
// file is <dir>/<tap>.conf); 0: none.
func openvpnOf(t testing.TB, ns *nstest.NS, tap string) int {
	t.Helper()
	for _, p := range openvpnPids(t, ns) {
		cmd, err := os.ReadFile("/proc/" + p + "/cmdline")
		if err != nil || !bytes.HasSuffix(bytes.TrimRight(cmd, "\x00"), []byte("/"+tap+".conf")) {
			continue
		}
		pid, _ := strconv.Atoi(p)
		return pid
	}
	return 0
}

// lastReplyAge is how long ago the probe last had a reply on link (< 0:
// never).
func lastReplyAge(t testing.TB, gw *daemon, link string) time.Duration {
	t.Helper()
	var links []api.LinkStats
	if code := gw.callAuth(http.MethodGet, "/v1/client/links", nil, &links, false); code != http.StatusOK {
		t.Fatalf("links: %d", code)
	}
	for _, l := range links {
		if l.Link == link && l.LastReplyAge != nil {
			return time.Duration(*l.LastReplyAge * float64(time.Millisecond))
		}
	}
	return -1
}

// linkStates is the engine's view of each of bond0's links.
func linkStates(t testing.TB, gw *daemon) map[string]api.FailoverLink {
	t.Helper()
	out, code := policyLinks(gw)
	if code != http.StatusOK {
		t.Fatalf("policy: %d", code)
	}
	return out
}

// policyLinks is linkStates with the HTTP status instead of a failure
// (no engine: --no-failover).
func policyLinks(gw *daemon) (map[string]api.FailoverLink, int) {
	var st api.PolicyStatus
	if code := gw.callAuth(http.MethodGet, "/v1/client/policy/bond0", nil, &st, false); code != http.StatusOK {
		return nil, code
	}
	out := map[string]api.FailoverLink{}
	for _, l := range st.Links {
		out[l.Link] = l
	}
	return out, http.StatusOK
}

// allEvents is every bond0 engine event, with the HTTP status.
func allEvents(gw *daemon) ([]api.Event, int) {
	var all []api.Event
	code := gw.callAuth(http.MethodGet, "/v1/client/events?bond=bond0", nil, &all, false)
	return all, code
}

// events is bond0's engine events between from and to.
func events(t testing.TB, gw *daemon, from, to time.Time) []api.Event {
	t.Helper()
	all, code := allEvents(gw)
	if code != http.StatusOK {
		t.Fatalf("events: %d", code)
	}
	var out []api.Event
	for _, e := range all {
		if !e.At.Before(from) && !e.At.After(to) {
			out = append(out, e)
		}
	}
	return out
}

// TestChaosFloodDuringFailover (chaos): the primary's underlay is cut
// while the API is flooded (rounds of 2000 unauthenticated reads at
// concurrency 200): the engine leaves it within twice the detection time
// of a cut without the flood in the same run (and 30 ms, for one probe
// interval of scheduling), returns once it is back, and makes no other
// switch. On the host only: in the lab's emulated CPUs a flood measures
// QEMU (a cut flooded took 512 ms there against 202 ms, both far from
// what any real gateway sees); the kernel bond's part in a cut is
// covered by the lab's failover cases.
func TestChaosFloodDuringFailover(t *testing.T) {
	nstest.HostOnly(t)
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			tp := newTopology(t)
			_, gw := scenario(t, tp, specClientBody(t), driver)
			waitSettled(t, gw)
			quiet := detectCut(t, tp, gw)
			ctx, cancel := context.WithCancel(context.Background())
			var codes sync.Map
			floodDone := make(chan struct{})
			go func() { defer close(floodDone); flood(ctx, gw, &codes) }()
			defer func() { cancel(); <-floodDone }()
			time.Sleep(2 * time.Second)
			before := failovers(t, gw)
			loaded := detectCut(t, tp, gw)
			time.Sleep(2 * time.Second)
			cancel()
			<-floodDone
			got := failovers(t, gw) - before
			t.Logf("%s: a cut under an API flood detected in %.0f ms, %.0f ms without; %d switches (the cut's and its failback: 2)", driver, loaded, quiet, got)
			if got != 2 {
				t.Errorf("%d switches around a cut under the flood, want 2 (away and back)", got)
			}
			// A busy host's cut waits the engine's dead time stretched
			// (failover's doc): within twice the idle dead time, 60 ms at
			// 20 ms probes, or twice the quiet detection if longer.
			if bound := 2*max(quiet, busyDeadMs) + 30; loaded > bound {
				t.Errorf("a cut under the flood detected in %.0f ms, over %.0f ms: twice max(%.0f ms without, the %.0f ms idle dead time) + 30 ms", loaded, bound, quiet, busyDeadMs)
			}
		})
	}
}

// TestChaosHubRestart (chaos): the hub's daemon is stopped (SIGTERM) and
// started again while an echo stream runs each way over the bond: the
// bond answers again within healBound of the start, nobody touching the
// gateway; the longest gap and the echoes lost are reported.
func TestChaosHubRestart(t *testing.T) {
	nstest.OneLabKernel(t)
	for _, driver := range splitDrivers() {
		t.Run(driver, func(t *testing.T) {
			tp := newTopology(t)
			hub, gw := scenario(t, tp, specClientBody(t), driver)
			waitSettled(t, gw)
			up := startProber(t, tp.gw, topology.HubTunnel)
			down := startProber(t, tp.hub, topology.GwTunnel)
			time.Sleep(time.Second)
			began := time.Now()
			if err := hub.stop(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			hub = hub.again(t)
			if !waitFor(t, healBound(), 50*time.Millisecond, func() bool { return up.Flowing(time.Now().Add(-200 * time.Millisecond)) }) {
				t.Fatalf("the hub's daemon started again: no echo back within %s\nhub log:\n%s\ngateway log:\n%s", healBound(), hub.Logs(40), gw.Logs(40))
			}
			healed := time.Since(start)
			time.Sleep(2 * time.Second)
			end := time.Now().Add(-time.Second)
			l1, s1 := up.Lost(began, end)
			l2, s2 := down.Lost(began, end)
			t.Logf("%s: hub daemon stopped and started again: echoes back %s after the start; longest gap %s; lost %d/%d",
				driver, healed.Round(time.Millisecond), up.GapAround(began, end).Round(time.Millisecond), l1+l2, s1+s2)
			pingOK(t, tp.hub, topology.GwTunnel)
		})
	}
}

// TestChaosFlapping (chaos): the primary's underlay flaps at 5 Hz (100 ms
// down, 100 ms up) for 30 s under an echo stream: flap damping holds
// (the engine leaves the link once and does not come back while it
// flaps; a switch the kernel bond makes by itself is the kernel's, and the
// engine leaving tap1 again after it is the damping at work), the daemon lives on with flat memory (Go heap in use and
// goroutines, from its /metrics, 5 s into the flapping and at its end),
// and traffic returns to the primary once it is steady.
func TestChaosFlapping(t *testing.T) {
	nstest.OneLabKernel(t)
	for _, driver := range splitDrivers() {
		t.Run(driver, func(t *testing.T) {
			tp := newTopology(t)
			_, gw := scenario(t, tp, specClientBody(t), driver)
			waitSettled(t, gw)
			waitActive(t, gw, "tap1", 10*time.Second)
			up := startProber(t, tp.gw, topology.HubTunnel)
			time.Sleep(time.Second)
			before := failovers(t, gw)
			began := time.Now()
			var heap0, gor0 float64
			defer setLink(t, tp.hub, "u1", true)
			for i := 0; time.Since(began) < 30*time.Second && i < 1000; i++ {
				setLink(t, tp.hub, "u1", false)
				time.Sleep(100 * time.Millisecond)
				setLink(t, tp.hub, "u1", true)
				time.Sleep(100 * time.Millisecond)
				if heap0 == 0 && time.Since(began) > 5*time.Second {
					heap0, gor0 = metric(t, gw, "go_memstats_heap_inuse_bytes"), metric(t, gw, "go_goroutines")
				}
			}
			ended := time.Now()
			heap1, gor1 := metric(t, gw, "go_memstats_heap_inuse_bytes"), metric(t, gw, "go_goroutines")
			flapped := failovers(t, gw) - before
			// The engine's switches, and the kernel bond's own: its ARP
			// monitor (arp_interval 100, the spec's) may lose a standby's
			// replies when QEMU stalls and switch by itself; the engine
			// then takes the bond back. Flap damping is the engine's.
			var sw []string
			kernelToTap1, engineToTap1, engineLeft := 0, 0, 0
			for _, e := range events(t, gw, began, ended) {
				if e.Kind != api.EventSwitch {
					continue
				}
				sw = append(sw, fmt.Sprintf("%s %s>%s %s: %s", e.At.Sub(began).Round(time.Millisecond), e.From, e.To, e.Reason, e.Detail))
				switch {
				case e.Reason == failover.ReasonKernel && e.To == "tap1":
					kernelToTap1++
				case e.Reason == failover.ReasonKernel:
				case e.To == "tap1":
					engineToTap1++
				case e.From == "tap1":
					engineLeft++
				}
			}
			waitActive(t, gw, "tap1", 90*time.Second)
			back := time.Since(began) - 30*time.Second
			lost, sent := up.Lost(began, time.Now().Add(-time.Second))
			t.Logf("%s: 30 s of 5 Hz flapping: %d switches while it flapped; heap in use %.1f -> %.1f MiB, goroutines %.0f -> %.0f; back on tap1 %s after it ended; echoes lost %d/%d",
				driver, flapped, heap0/(1<<20), heap1/(1<<20), gor0, gor1, back.Round(time.Millisecond), lost, sent)
			if engineToTap1 > 0 || engineLeft != 1+kernelToTap1 {
				t.Errorf("while tap1 flapped the engine left it %d times and went back to it %d times (the kernel bond by itself %d), want left once and never back:\n%s",
					engineLeft, engineToTap1, kernelToTap1, strings.Join(sw, "\n"))
			} else if len(sw) > 1 {
				t.Logf("the kernel bond switched by itself, the engine took it back:\n%s", strings.Join(sw, "\n"))
			}
			if heap1 > max(2*heap0, heap0+8<<20) || gor1 > gor0+10 {
				t.Errorf("memory not flat: heap in use %.0f -> %.0f bytes, goroutines %.0f -> %.0f", heap0, heap1, gor0, gor1)
			}
			if code := gw.callAuth(http.MethodGet, "/health", nil, nil, false); code != http.StatusOK {
				t.Errorf("GET /health after the flapping: %d", code)
			}
		})
	}
}

// metric reads one unlabelled sample from d's /metrics.
func metric(t testing.TB, d *daemon, name string) float64 {
	t.Helper()
	code, data, err := d.Do(context.Background(), http.MethodGet, "/metrics", nil, false)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", code, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %q: %v", name, v, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not in /metrics", name)
	return 0
}
