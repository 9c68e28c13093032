package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/demo"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// keepBound is the longest silence a restart with --keep-dataplane may
// cause in a 10 ms echo stream (the goal), and keepLost the lost
// echoes allowed: none.
const (
	keepBound = 100 * time.Millisecond
	keepLost  = 0
	keepEcho  = 10 * time.Millisecond
)

// streams are a 10 ms echo stream each way through the bond.
type streams struct{ up, down *demo.Prober }

func startStreams(t testing.TB, tp *testbed) streams {
	t.Helper()
	s := streams{up: startEcho(t, tp.gw, topology.HubTunnel, keepEcho), down: startEcho(t, tp.hub, topology.GwTunnel, keepEcho)}
	waitFlowing(t, s.up)
	waitFlowing(t, s.down)
	return s
}

// window is what the streams saw between from and to (ask once the
// replies had time to arrive).
func (s streams) window(from, to time.Time) (gapUp, gapDown time.Duration, lostUp, lostDown int) {
	gapUp, gapDown = s.up.GapAround(from, to), s.down.GapAround(from, to)
	lostUp, _ = s.up.Lost(from, to.Add(-time.Second))
	lostDown, _ = s.down.Lost(from, to.Add(-time.Second))
	return
}

// bound is the longest gap a restart may cause in the streams: keepBound,
// or twice the longest gap of a 3 s window without a restart where the
// streams' own noise is larger (the lab's emulated CPUs: about 100 ms
// with nothing happening).
func (s streams) bound(t testing.TB) time.Duration {
	from := time.Now()
	time.Sleep(3 * time.Second)
	gu, gd, _, _ := s.window(from, time.Now())
	b := max(keepBound, 2*max(gu, gd))
	t.Logf("echo streams without a restart: longest gap %s / %s; a restart may cause %s", gu.Round(time.Millisecond), gd.Round(time.Millisecond), b.Round(time.Millisecond))
	return b
}

// dataplaneIDs is what must not change when a daemon's data plane is
// adopted: its openvpn processes and the bond's or bridge's ifindex.
func dataplaneIDs(t testing.TB, ns *nstest.NS, link string) string {
	t.Helper()
	l, err := ns.Handle.LinkByName(link)
	if err != nil {
		t.Fatalf("%s in %s: %v", link, ns.Name, err)
	}
	pids := openvpnPids(t, ns)
	slices.Sort(pids)
	return fmt.Sprintf("%s %s#%d", strings.Join(pids, ","), link, l.Attrs().Index)
}

// switchesSince lists bond0's switches since from.
func switchesSince(t testing.TB, gw *daemon, from time.Time) []string {
	t.Helper()
	var out []string
	for _, e := range events(t, gw, from, time.Now()) {
		if e.Kind == api.EventSwitch {
			out = append(out, e.From+"->"+e.To+" ("+e.Reason+")")
		}
	}
	return out
}

// restartKept ends d (SIGTERM, or SIGKILL when kill) and starts it again
// on the same state dir, then waits until it reports health ok.
func restartKept(t testing.TB, d *daemon, kill bool) *daemon {
	t.Helper()
	var err error
	if kill {
		err = d.Kill()
	} else {
		err = d.stop()
	}
	if err != nil {
		t.Fatal(err)
	}
	n := d.again(t)
	waitHealthy(t, n, 60*time.Second)
	return n
}

// waitHealthy waits (bounded) until d's /health says ok.
func waitHealthy(t testing.TB, d *daemon, within time.Duration) {
	t.Helper()
	var rep struct {
		Status string `json:"status"`
	}
	if waitFor(t, within, 100*time.Millisecond, func() bool {
		return d.call(http.MethodGet, "/health", nil, &rep) == http.StatusOK && rep.Status == "ok"
	}) {
		return
	}
	t.Fatalf("%s: /health %q after %s\n%s", d.ns.Name, rep.Status, within, d.Logs(40))
}

// TestKeepDataplane: with --keep-dataplane the hub's and the gateway's
// daemons are restarted (SIGTERM) and killed (-9) and started again under
// two 10 ms echo streams: the next daemon adopts the openvpn processes,
// the bond or bridge and the eBPF programs as they are (same pids, same
// ifindex), the engine resumes on the same link, and neither stream sees a
// gap over keepBound or loses an echo.
func TestKeepDataplane(t *testing.T) {
	// The lab's first kernel only: the adoption is the same code on both,
	// and the eBPF pins' kernel differences have their own cases there.
	nstest.OneLabKernel(t)
	nstest.RequireCommand(t, "openvpn")
	for _, driver := range splitDrivers() {
		t.Run(driver, func(t *testing.T) {
			tp := newTopology(t)
			requireDriver(t, tp, driver)
			hub, gw := scenarioArgs(t, tp, specServerBody(t), specClientBody(t), driver, []string{"--keep-dataplane"}, "--keep-dataplane")
			waitActive(t, gw, "tap1", 30*time.Second)
			s := startStreams(t, tp)
			bound := s.bound(t)
			for _, c := range []struct {
				name string
				d    **daemon
				kill bool
			}{{"gateway SIGTERM", &gw, false}, {"gateway kill -9", &gw, true}, {"hub SIGTERM", &hub, false}, {"hub kill -9", &hub, true}} {
				d := *c.d
				link := "bond0"
				if d == hub {
					link = "br0"
				}
				before := dataplaneIDs(t, d.ns, link)
				from := time.Now().Add(-time.Second)
				*c.d = restartKept(t, d, c.kill)
				waitActive(t, gw, "tap1", 10*time.Second)
				time.Sleep(2 * time.Second) // late replies, and the engine's first decisions
				to := time.Now()
				gu, gd, lu, ld := s.window(from, to)
				t.Logf("%s, %s: longest gap gateway->hub %s, hub->gateway %s; lost %d and %d", driver, c.name, gu.Round(time.Millisecond), gd.Round(time.Millisecond), lu, ld)
				if after := dataplaneIDs(t, (*c.d).ns, link); after != before {
					t.Errorf("%s: data plane %s before, %s after: want it adopted as it was", c.name, before, after)
				}
				sw := switchesSince(t, gw, from)
				if nstest.InLab() {
					// The lab's emulated CPUs: a daemon's start (Go, an
					// openvpn --version, TLS) starves the echoes and the
					// kernel bond's ARP monitor for a moment, which is
					// QEMU's time, not the data plane's. The adoption is
					// asserted there; gaps, losses and switches are
					// reported (BenchmarkKeepDataplane compares them to a
					// window without a restart).
					t.Logf("%s (lab: reported, not asserted): switches %v", c.name, sw)
					continue
				}
				if gu > bound || gd > bound || lu+ld > keepLost {
					t.Errorf("%s: gaps %s / %s, lost %d / %d: want at most %s and %d lost", c.name, gu, gd, lu, ld, bound, keepLost)
				}
				if len(sw) > 0 {
					t.Errorf("%s: the restart caused switches %v", c.name, sw)
				}
			}
		})
	}
}

// TestKeepDesiredChanged: a client removed from the desired state while
// the gateway daemon (--keep-dataplane) was down is gone after its next
// start: bond, TAPs, the eBPF bond's pair and pins, policy routing and
// openvpn processes.
func TestKeepDesiredChanged(t *testing.T) {
	nstest.OneLabKernel(t)
	tp := newTopology(t)
	_, gw := scenarioArgs(t, tp, specServerBody(t), specClientBody(t), "ebpf", []string{"--keep-dataplane"}, "--keep-dataplane")
	if err := gw.stop(); err != nil {
		t.Fatal(err)
	}
	if got := links(t, tp.gw); len(got) <= 3 {
		t.Fatalf("interfaces after a kept exit: %v, want the bond and TAPs still there", got)
	}
	if err := os.WriteFile(filepath.Join(gw.stateDir, "state.json"), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gw = gw.again(t)
	waitHealthy(t, gw, 30*time.Second)
	if got := links(t, tp.gw); len(got) != 3 {
		t.Errorf("interfaces after the restart: %v, want lo, u1, u2 only", got)
	}
	if rules := ourRules(t, tp.gw); len(rules) != 0 {
		t.Errorf("policy rules after the restart: %q, want none", rules)
	}
	if pids := openvpnPids(t, tp.gw); len(pids) != 0 {
		t.Errorf("openvpn %v still runs", pids)
	}
}

// TestPurge: purge refuses while the daemon runs, and after a kept exit
// leaves nothing: no interface, rule, route, pin or openvpn process, and
// the state dir as an exit without --keep-dataplane leaves it.
func TestPurge(t *testing.T) {
	nstest.OneLabKernel(t)
	tp := newTopology(t)
	hub, gw := scenarioArgs(t, tp, specServerBody(t), specClientBody(t), "ebpf", []string{"--keep-dataplane"}, "--keep-dataplane")
	bin := buildBinary(t)
	out, err := gw.ns.Command(context.Background(), bin, "purge", "--state-dir", gw.stateDir, "--bpffs", gw.flagValue("--bpffs")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "stop it first") {
		t.Fatalf("purge beside a running daemon: %v\n%s\nwant a refusal", err, out)
	}
	if got := links(t, tp.gw); len(got) <= 3 {
		t.Fatalf("the refused purge removed interfaces: %v", got)
	}
	for _, d := range []*daemon{gw, hub} {
		go func() { time.Sleep(500 * time.Millisecond); _ = d.stop() }()
		d.purge(t, "--wait", "30s") // waits for the stop
	}
	for _, ns := range []*nstest.NS{tp.gw, tp.hub} {
		if got := links(t, ns); len(got) != 3 {
			t.Errorf("%s: interfaces after purge: %v, want lo and the underlays", ns.Name, got)
		}
		if pids := openvpnPids(t, ns); len(pids) != 0 {
			t.Errorf("%s: openvpn %v after purge", ns.Name, pids)
		}
	}
	if rules := ourRules(t, tp.gw); len(rules) != 0 {
		t.Errorf("policy rules after purge: %q", rules)
	}
	for _, table := range []int{0x4d4c0000, 0x4d4c0001} {
		if out := tp.gw.Run(t, "ip", "route", "show", "table", fmt.Sprint(table)); strings.TrimSpace(out) != "" {
			t.Errorf("routes left in table %#x after purge: %s", table, out)
		}
	}
	for _, d := range []*daemon{gw, hub} {
		var pins []string
		_ = filepath.WalkDir(filepath.Join(d.flagValue("--bpffs"), "multilink"), func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				pins = append(pins, p)
			}
			return nil
		})
		if len(pins) > 0 {
			t.Errorf("%s: pins left after purge: %v", d.ns.Name, pins)
		}
		for _, pat := range []string{"*.conf", "*.pid", "*.log"} {
			if left, _ := filepath.Glob(filepath.Join(d.stateDir, "tunnels", pat)); len(left) > 0 {
				t.Errorf("%s: files left after purge: %v", d.ns.Name, left)
			}
		}
		if _, err := os.Stat(filepath.Join(d.stateDir, "state.json")); err != nil {
			t.Errorf("%s: the desired state went with the purge: %v", d.ns.Name, err)
		}
	}
	var st map[string]json.RawMessage
	data, _ := os.ReadFile(filepath.Join(gw.stateDir, "state.json"))
	if json.Unmarshal(data, &st) != nil || len(st["clients"]) < 3 {
		t.Errorf("the gateway's desired state after purge: %s", data)
	}
}

// kernelModeBound is how soon after the new daemon's start the echo
// streams must flow again with --keep-dataplane=kernel (the container
// mode: the openvpn processes end with the daemon and the next one starts
// new ones on the kept TAPs). OpenVPN 2.6 brings a new session's data
// channel up at its next whole-second timer tick after the handshake, so
// the return is the daemon's start-up plus up to a second: the goal is
// under a second on average, asserted with room for a busy CI host.
const kernelModeBound = 1500 * time.Millisecond

// kernelModePhases are where in a wall-clock second the hub's daemon is
// started again, to meet OpenVPN's whole-second tick at every distance.
var kernelModePhases = []time.Duration{100 * time.Millisecond, 350 * time.Millisecond, 600 * time.Millisecond, 850 * time.Millisecond}

// TestKeepKernelMode: with --keep-dataplane=kernel the restart of each
// daemon keeps the bond or bridge (same ifindex) and its pins, ends the
// openvpn processes, and the new daemon's tunnels carry the echo streams
// again within kernelModeBound of its start. The hub is restarted at
// several phases of a second; its return rests on the gateway, which
// watches for the hub's tunnels after their exit and restarts its own the
// moment they are back, and announces the bond when its link answers again.
func TestKeepKernelMode(t *testing.T) {
	nstest.OneLabKernel(t)
	tp := newTopology(t)
	hub, gw := scenarioArgs(t, tp, specServerBody(t), specClientBody(t), "ebpf", []string{"--keep-dataplane=kernel"}, "--keep-dataplane=kernel")
	waitActive(t, gw, "tap1", 30*time.Second)
	s := startStreams(t, tp)
	restart := func(name string, d **daemon, link string, phase time.Duration) {
		t.Helper()
		l, err := (*d).ns.Handle.LinkByName(link)
		if err != nil {
			t.Fatal(err)
		}
		pids := openvpnPids(t, (*d).ns)
		if phase >= 0 {
			now := time.Now()
			time.Sleep(now.Truncate(time.Second).Add(time.Second + phase).Sub(now))
		}
		if err := (*d).stop(); err != nil {
			t.Fatal(err)
		}
		if left := openvpnPids(t, (*d).ns); len(left) != 0 {
			t.Errorf("%s: openvpn %v outlived a kernel-mode exit", name, left)
		}
		start := time.Now()
		*d = (*d).again(t)
		waitFlowingAfter(t, s.up, start)
		waitFlowingAfter(t, s.down, start)
		back := max(s.up.FirstAfter(start).Sub(start), s.down.FirstAfter(start).Sub(start))
		t.Logf("%s restarted at %s past a second, kernel mode: echoes flow again %s after the new daemon's start (longest gap %s / %s)", name,
			start.Sub(start.Truncate(time.Second)).Round(time.Millisecond), back.Round(time.Millisecond),
			s.up.GapAround(start.Add(-time.Second), time.Now()).Round(time.Millisecond), s.down.GapAround(start.Add(-time.Second), time.Now()).Round(time.Millisecond))
		// The lab's emulated CPUs take seconds to start a daemon and
		// openvpn: the return is reported there, asserted on the host.
		if back > kernelModeBound && !nstest.InLab() {
			t.Errorf("%s: echoes back %s after the start, over %s", name, back, kernelModeBound)
		}
		if n, err := (*d).ns.Handle.LinkByName(link); err != nil || n.Attrs().Index != l.Attrs().Index {
			t.Errorf("%s: %s not kept (%v)", name, link, err)
		}
		if now := openvpnPids(t, (*d).ns); len(now) != 2 || slices.Equal(now, pids) {
			t.Errorf("%s: openvpn %v before, %v after: want two new ones", name, pids, now)
		}
	}
	restart("gateway", &gw, "bond0", -1)
	phases := kernelModePhases
	if nstest.InLab() {
		phases = phases[:1]
	}
	for _, p := range phases {
		waitActive(t, gw, "tap1", 30*time.Second) // settled: the next restart starts from the primary
		restart("hub", &hub, "br0", p)
	}
}

// TestKeepHubDown: the gateway's daemon restarted (--keep-dataplane)
// while its hub's API does not answer (the hub's daemon is stopped, its
// kept data plane forwarding): the client stays pending and its data plane
// forwards on without a break; once the hub's daemon is back the retry
// adopts it (same openvpn, same bond).
func TestKeepHubDown(t *testing.T) {
	nstest.OneLabKernel(t)
	tp := newTopology(t)
	hub, gw := scenarioArgs(t, tp, specServerBody(t), specClientBody(t), "ebpf", []string{"--keep-dataplane"}, "--keep-dataplane")
	waitActive(t, gw, "tap1", 30*time.Second)
	s := startStreams(t, tp)
	bound := s.bound(t)
	before := dataplaneIDs(t, tp.gw, "bond0")
	from := time.Now().Add(-time.Second)
	if err := hub.stop(); err != nil {
		t.Fatal(err)
	}
	if err := gw.stop(); err != nil {
		t.Fatal(err)
	}
	gw = gw.again(t)            // pending: /health says degraded
	time.Sleep(3 * time.Second) // a retry fails meanwhile
	if got := dataplaneIDs(t, tp.gw, "bond0"); got != before {
		t.Errorf("with the client pending: data plane %s, was %s: want it left as it was", got, before)
	}
	hub = hub.again(t)
	waitHealthy(t, hub, 30*time.Second)
	if !waitFor(t, 90*time.Second, 200*time.Millisecond, func() bool {
		var rep struct {
			Status string `json:"status"`
		}
		return gw.call(http.MethodGet, "/health", nil, &rep) == http.StatusOK && rep.Status == "ok"
	}) {
		t.Fatalf("the pending client did not start once the hub answered\n%s", gw.Logs(30))
	}
	waitActive(t, gw, "tap1", 10*time.Second)
	time.Sleep(2 * time.Second)
	gu, gd, lu, ld := s.window(from, time.Now())
	t.Logf("hub's API down across the gateway's restart, then back: longest gap %s / %s, lost %d / %d", gu.Round(time.Millisecond), gd.Round(time.Millisecond), lu, ld)
	if after := dataplaneIDs(t, tp.gw, "bond0"); after != before {
		t.Errorf("data plane %s before, %s after the pending client started: want it adopted", before, after)
	}
	if lu+ld > 0 || (gu > bound || gd > bound) && !nstest.InLab() {
		// The lab: the gaps are the emulated CPUs' (reported, as in
		// TestKeepDataplane); no echo may be lost anywhere.
		t.Errorf("gaps %s / %s, lost %d / %d: want at most %s and none lost", gu, gd, lu, ld, bound)
	}
}
