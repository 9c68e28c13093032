package e2e

import (
	"bytes"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// chaosHeal bounds a killed OpenVPN's link coming back: the supervisor's
// restart, the new session, the engine's hold-down.
func chaosHeal() time.Duration {
	if nstest.InLab() {
		return 40 * time.Second
	}
	return 20 * time.Second
}

// TestChaosOpenVPNKilled (chaos): kill -9 of each OpenVPN process, on the
// hub's side and on the gateway's, the standby link's and the active
// one's, with an echo stream each way over the bond. Each time the link
// comes back up (the daemon's supervisor restarts the process and the
// session is made again) within chaosHeal, and the engine never blames
// the other, healthy link (no state change of it). The standby's death
// costs no echo; the active one's costs a failover and a failback, and
// what they lose is reported.
func TestChaosOpenVPNKilled(t *testing.T) {
	for _, driver := range drivers {
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
	var st api.PolicyStatus
	if code := gw.callAuth(http.MethodGet, "/v1/client/policy/bond0", nil, &st, false); code != http.StatusOK {
		t.Fatalf("policy: %d", code)
	}
	out := map[string]api.FailoverLink{}
	for _, l := range st.Links {
		out[l.Link] = l
	}
	return out
}

// events is bond0's engine events between from and to.
func events(t testing.TB, gw *daemon, from, to time.Time) []api.Event {
	t.Helper()
	var all []api.Event
	if code := gw.callAuth(http.MethodGet, "/v1/client/events?bond=bond0", nil, &all, false); code != http.StatusOK {
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
