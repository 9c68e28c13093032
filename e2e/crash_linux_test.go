package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// TestCrashHeals: after kill -9 of the hub's daemon, then of the
// gateway's, the same command again brings the bond back with no manual
// step: what the crashed daemon left (bridge, bond, TAPs, rules, the
// openvpn processes) is recognised as its own and adopted, and a 10 ms ping over the bond
// answers again within healBound of the restart.
func TestCrashHeals(t *testing.T) {
	nstest.OneLabKernel(t)
	nstest.RequireCommand(t, "ping")
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			tp := newTopology(t)
			hub, gw := scenario(t, tp, specClientBody(t), driver)
			for _, c := range []struct {
				name string
				d    **daemon
			}{{"hub", &hub}, {"gateway", &gw}} {
				ns := (*c.d).ns
				if err := (*c.d).Kill(); err != nil {
					t.Fatal(err)
				}
				// Its OpenVPN processes run on as nobody (the kernel clears
				// their parent-death signal when they drop root): the next
				// daemon adopts them with the rest (one per link, no
				// stray beside them).
				start := time.Now()
				*c.d = (*c.d).again(t)
				if pids := openvpnPids(t, ns); len(pids) != 2 {
					t.Errorf("openvpn processes in %s after the %s daemon's restart: %v, want one per link", ns.Name, c.name, pids)
				}
				if err := firstReply(t, tp.gw, topology.HubTunnel, 60*time.Second); err != nil {
					t.Fatalf("after kill -9 of the %s daemon: %v\nhub log:\n%s\ngateway log:\n%s", c.name, err, hub.Logs(40), gw.Logs(40))
				}
				took := time.Since(start) // from the restart's command, the daemon's start included
				t.Logf("%s daemon killed (-9) and started again: the bond answers %s after the restart (bound %s)", c.name, took.Round(time.Millisecond), healBound())
				if took > healBound() {
					t.Errorf("%s: the bond answered %s after the restart, over the %s bound", c.name, took.Round(time.Millisecond), healBound())
				}
				if left := gw.logLines("not ours"); len(left) > 0 {
					t.Errorf("the gateway took its own leftovers for someone else's: %v", left)
				}
				if left := hub.logLines("not ours"); len(left) > 0 {
					t.Errorf("the hub took its own leftovers for someone else's: %v", left)
				}
			}
			pingOK(t, tp.hub, topology.GwTunnel)
		})
	}
}

// firstReply pings addr from ns, one echo at a time with a 100 ms wait,
// until one comes back, within limit. (One ping with -c 1 would stop at
// the first error, such as a neighbour not yet resolved while a tunnel
// is being set up.)
func firstReply(t testing.TB, ns *nstest.NS, addr string, limit time.Duration) error {
	t.Helper()
	deadline := time.Now().Add(limit)
	var out []byte
	var err error
	for time.Now().Before(deadline) {
		out, err = ns.Command(t.Context(), "ping", "-n", "-q", "-c", "1", "-W", "0.1", addr).CombinedOutput()
		if err == nil {
			return nil
		}
		if t.Context().Err() != nil {
			break
		}
	}
	return fmt.Errorf("no echo from %s within %s: %v\n%s", addr, limit, err, out)
}

// TestCrashThenDesiredChanged: a gateway daemon killed with -9 whose
// desired state loses its client meanwhile (state.json edited) removes,
// at its next start, everything of that client: the bond, its TAPs, the
// eBPF bond's pair and the policy-routing rules and tables.
func TestCrashThenDesiredChanged(t *testing.T) {
	nstest.OneLabKernel(t)
	tp := newTopology(t)
	_, gw := scenario(t, tp, specClientBody(t), "ebpf")
	if rules := ourRules(t, tp.gw); len(rules) != 2 {
		t.Fatalf("policy rules while bond0 runs: %q, want 2", rules)
	}
	if err := gw.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(gw.stateDir, "state.json"), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gw = gw.again(t)
	if got := links(t, tp.gw); len(got) != 3 {
		t.Errorf("interfaces after the restart: %v, want lo, u1, u2 only", got)
	}
	if rules := ourRules(t, tp.gw); len(rules) != 0 {
		t.Errorf("policy rules after the restart: %q, want none", rules)
	}
	if out := tp.gw.Run(t, "ip", "route", "show", "table", fmt.Sprint(0x4d4c0000)); strings.TrimSpace(out) != "" {
		t.Errorf("routes left in table %#x: %s", 0x4d4c0000, out)
	}
}

// ourRules lists ns's policy rules of priority 1000 (multilink's).
func ourRules(t testing.TB, ns *nstest.NS) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(ns.Run(t, "ip", "rule", "show"), "\n") {
		if strings.HasPrefix(l, "1000:") {
			out = append(out, l)
		}
	}
	return out
}
