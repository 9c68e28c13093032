package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/nsthread"
	"github.com/multilink/multilink/internal/testsupport"
)

// lab is a hub and a gateway namespace joined by two veth underlays,
// with a Manager in each.
type lab struct {
	hub, gw *nstest.NS
	hm, gm  *Manager
	hubDir  string
	gwDir   string
	key     string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	nstest.RequireCommand(t, "openvpn")
	nstest.RequireCommand(t, "ping")
	l := &lab{hub: nstest.New(t, "hub"), gw: nstest.New(t, "gw"), hubDir: t.TempDir(), gwDir: t.TempDir()}
	nstest.Veth(t, l.hub, "hv1", "192.0.2.1/24", l.gw, "gv1", "192.0.2.2/24")
	nstest.Veth(t, l.hub, "hv2", "198.51.100.1/24", l.gw, "gv2", "198.51.100.2/24")
	l.key = filepath.Join(t.TempDir(), "link.key")
	if err := GenerateKey(l.key); err != nil {
		t.Fatal(err)
	}
	l.hm = nsManager(t, l.hub, l.hubDir)
	l.gm = nsManager(t, l.gw, l.gwDir)
	return l
}

func nsManager(t *testing.T, ns *nstest.NS, dir string) *Manager {
	t.Helper()
	return nsManagerWith(t, ns, Options{Dir: dir, Logger: testLogger(t),
		MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, StopTimeout: 3 * time.Second})
}

// nsManagerWith is a Manager with opts in ns.
func nsManagerWith(t *testing.T, ns *nstest.NS, opts Options) *Manager {
	t.Helper()
	opts.NetNS = ns.Path()
	m, err := NewManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	testsupport.CloseAtEnd(t, "the manager in "+ns.Name, 20*time.Second, m.Close)
	return m
}

func (l *lab) start(t *testing.T, m *Manager, s Spec) {
	t.Helper()
	s.KeyFile = l.key
	if err := m.Start(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

func addAddr(t *testing.T, ns *nstest.NS, link, cidr string) {
	t.Helper()
	lk, err := ns.Handle.LinkByName(link)
	if err != nil {
		t.Fatal(err)
	}
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Handle.AddrAdd(lk, a); err != nil {
		t.Fatalf("address %s on %s in %s: %v", cidr, link, ns.Name, err)
	}
}

// pingOK pings addr from ns until one answer, at most 20 tries of 1 s.
func pingOK(t *testing.T, ns *nstest.NS, addr string) {
	t.Helper()
	var out []byte
	for range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		var err error
		out, err = ns.Command(ctx, "ping", "-n", "-c", "1", "-W", "1", addr).CombinedOutput()
		cancel()
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // ping -W bounds the wait when there is a route
	}
	t.Fatalf("no answer from %s in %s after 20 tries:\n%s", addr, ns.Name, out)
}

// pingFails reports whether a single ping from ns to addr gets no answer.
func pingFails(t *testing.T, ns *nstest.NS, addr string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return ns.Command(ctx, "ping", "-n", "-c", "1", "-W", "1", addr).Run() != nil
}

// tapState returns a TAP's ifindex and admin state.
func tapState(t *testing.T, ns *nstest.NS, name string) (index int, up bool) {
	t.Helper()
	lk, err := ns.Handle.LinkByName(name)
	if err != nil {
		t.Fatalf("%s in %s: %v", name, ns.Name, err)
	}
	if _, ok := lk.(*netlink.Tuntap); !ok {
		t.Fatalf("%s in %s is a %s, want tuntap", name, ns.Name, lk.Type())
	}
	return lk.Attrs().Index, lk.Attrs().Flags&net.FlagUp != 0
}

// checkNewTap checks what createTap made of name: a persistent
// single-queue TAP without packet information, with our alias.
func checkNewTap(t *testing.T, ns *nstest.NS, name string) {
	t.Helper()
	lk, err := ns.Handle.LinkByName(name)
	if err != nil {
		t.Fatalf("%s in %s: %v", name, ns.Name, err)
	}
	tap, ok := lk.(*netlink.Tuntap)
	if !ok {
		t.Fatalf("%s is a %s, want tuntap", name, lk.Type())
	}
	if tap.Mode != netlink.TUNTAP_MODE_TAP || tap.NonPersist || tap.Flags&netlink.TUNTAP_NO_PI == 0 ||
		tap.Flags&netlink.TUNTAP_MULTI_QUEUE != 0 || tap.Alias != tapAlias {
		t.Errorf("%s: mode %v, non-persistent %t, flags %#x, alias %q; want a persistent single-queue TAP, NO_PI, alias %q",
			name, tap.Mode, tap.NonPersist, tap.Flags, tap.Alias, tapAlias)
	}
}

// holdsTap reports whether process pid has the TAP open, from its
// fdinfo ("iff: tap1"). Unlike tapBusy it does not touch the device, so it
// cannot make a starting openvpn fail with EBUSY.
func holdsTap(pid int, tap string) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if target, _ := os.Readlink(filepath.Join(dir, e.Name())); target != "/dev/net/tun" {
			continue
		}
		info, _ := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, e.Name()))
		for _, line := range strings.Split(string(info), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "iff:" && f[1] == tap {
				return true
			}
		}
	}
	return false
}

// killAndWaitRestart SIGKILLs the tunnel's openvpn (a PID we started) and
// waits until the supervisor runs a new one that has opened the TAP.
func killAndWaitRestart(t *testing.T, m *Manager, ns *nstest.NS, tap string) {
	t.Helper()
	before, _ := m.Status(tap)
	if !before.Running || before.PID == 0 {
		t.Fatalf("%s is not running: %+v", tap, before)
	}
	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, 20*time.Second, tap+" to restart and open its TAP", func() bool {
		st, _ := m.Status(tap)
		return st.Running && st.PID != before.PID && st.Restarts == before.Restarts+1 && holdsTap(st.PID, tap)
	})
	if st, _ := m.Status(tap); st.LastExit != "signal: killed" {
		t.Errorf("LastExit = %q, want signal: killed", st.LastExit)
	}
}

func TestTunnelsAcrossNamespaces(t *testing.T) {
	l := newLab(t)
	l.start(t, l.hm, Spec{Tap: "tap1", Role: Server, Port: 1191})
	l.start(t, l.hm, Spec{Tap: "tap2", Role: Server, Port: 1192})
	l.start(t, l.gm, Spec{Tap: "tap1", Role: Client, Port: 1191, Remote: netip.MustParseAddr("192.0.2.1"), Device: "gv1"})
	l.start(t, l.gm, Spec{Tap: "tap2", Role: Client, Port: 1192, Remote: netip.MustParseAddr("198.51.100.1"), Device: "gv2"})
	addAddr(t, l.hub, "tap1", "10.8.1.1/24")
	addAddr(t, l.gw, "tap1", "10.8.1.2/24")
	addAddr(t, l.hub, "tap2", "10.8.2.1/24")
	addAddr(t, l.gw, "tap2", "10.8.2.2/24")
	pingOK(t, l.gw, "10.8.1.1")
	pingOK(t, l.gw, "10.8.2.1")
	pingOK(t, l.hub, "10.8.2.2")

	t.Run("foreign interface", func(t *testing.T) {
		err := l.gm.Start(context.Background(), Spec{Tap: "gv1", Role: Server, Port: 1199, KeyFile: l.key})
		if !errors.Is(err, errkind.ErrConflict) {
			t.Fatalf("Start on gv1 = %v, want a conflict", err)
		}
		if _, err := l.gw.Handle.LinkByName("gv1"); err != nil {
			t.Fatalf("gv1 harmed: %v", err)
		}
	})

	t.Run("restart after kill", func(t *testing.T) {
		idx, _ := tapState(t, l.gw, "tap1")
		killAndWaitRestart(t, l.gm, l.gw, "tap1")
		if now, up := tapState(t, l.gw, "tap1"); now != idx || !up {
			t.Fatalf("tap1 after restart: ifindex %d (was %d), up %t: not the same TAP", now, idx, up)
		}
		pingOK(t, l.gw, "10.8.1.1")
		// The server side too.
		killAndWaitRestart(t, l.hm, l.hub, "tap1")
		pingOK(t, l.gw, "10.8.1.1")
	})

	t.Run("admin down survives restart", func(t *testing.T) {
		ctx := context.Background()
		if err := l.gm.SetUp(ctx, "tap2", false); err != nil {
			t.Fatal(err)
		}
		if _, up := tapState(t, l.gw, "tap2"); up {
			t.Fatal("tap2 up after SetUp(false)")
		}
		killAndWaitRestart(t, l.gm, l.gw, "tap2")
		if _, up := tapState(t, l.gw, "tap2"); up {
			t.Fatal("tap2 up after a restart, want it to stay down")
		}
		if st, _ := l.gm.Status("tap2"); st.AdminUp {
			t.Error("Status.AdminUp true for a TAP set down")
		}
		if !pingFails(t, l.gw, "10.8.2.1") {
			t.Error("ping crossed a TAP that is down")
		}
		if err := l.gm.SetUp(ctx, "tap2", true); err != nil {
			t.Fatal(err)
		}
		pingOK(t, l.gw, "10.8.2.1")
	})

	t.Run("stop leaves nothing", func(t *testing.T) {
		for _, c := range []struct {
			m   *Manager
			ns  *nstest.NS
			dir string
		}{{l.gm, l.gw, l.gwDir}, {l.hm, l.hub, l.hubDir}} {
			st, _ := c.m.Status("tap2")
			conf := filepath.Join(c.dir, "tap2.conf")
			if _, err := os.Stat(conf); err != nil {
				t.Fatalf("config file before Stop: %v", err)
			}
			if err := c.m.Stop(context.Background(), "tap2"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ns.Handle.LinkByName("tap2"); err == nil {
				t.Errorf("tap2 still exists in %s after Stop", c.ns.Name)
			}
			if _, err := os.Stat(conf); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("config file after Stop: %v", err)
			}
			if !processGone(st.PID, conf) {
				t.Errorf("openvpn %d still runs after Stop", st.PID)
			}
			if _, ok := c.m.Status("tap2"); ok {
				t.Error("tap2 still managed after Stop")
			}
		}
		pingOK(t, l.gw, "10.8.1.1") // the other link is untouched
	})

	t.Run("close leaves nothing", func(t *testing.T) {
		for _, c := range []struct {
			m  *Manager
			ns *nstest.NS
		}{{l.gm, l.gw}, {l.hm, l.hub}} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := c.m.Close(ctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.ns.Handle.LinkByName("tap1"); err == nil {
				t.Errorf("tap1 still exists in %s after Close", c.ns.Name)
			}
			out, err := exec.Command("ip", "netns", "pids", c.ns.Name).Output()
			if err != nil || strings.TrimSpace(string(out)) != "" {
				t.Errorf("processes left in %s: %q %v", c.ns.Name, out, err)
			}
		}
	})
}

// TestSameHubAddressTwoPaths: the hub has one address (203.0.113.1, on
// lo) reachable over both underlays; the gateway pins each link to its
// underlay by policy routing on the socket mark (rule fwmark M lookup T,
// route in T via that underlay) plus bind-dev. The hub answers ARP only
// for addresses on the asking interface (arp_ignore 1), so the kernel's
// "assume on-link" fallback for a bound socket without a route fails: the
// pings prove the marks select the routes.
func TestSameHubAddressTwoPaths(t *testing.T) {
	l := newLab(t)
	l.hub.Run(t, "sysctl", "-q", "-w", "net.ipv4.conf.all.arp_ignore=1")
	for _, k := range []string{"all", "default", "gv1", "gv2"} {
		l.gw.Run(t, "sysctl", "-q", "-w", "net.ipv4.conf."+k+".rp_filter=0")
	}
	addAddr(t, l.hub, "lo", "203.0.113.1/32")
	hubAddr := netip.MustParseAddr("203.0.113.1")
	for i, p := range []struct {
		dev string
		gw  string
	}{{"gv1", "192.0.2.1"}, {"gv2", "198.51.100.1"}} {
		mark := uint32(101 + i)
		lk, err := l.gw.Handle.LinkByName(p.dev)
		if err != nil {
			t.Fatal(err)
		}
		rt := &netlink.Route{LinkIndex: lk.Attrs().Index, Table: int(mark),
			Dst: &net.IPNet{IP: hubAddr.AsSlice(), Mask: net.CIDRMask(32, 32)}, Gw: net.ParseIP(p.gw)}
		if err := l.gw.Handle.RouteAdd(rt); err != nil {
			t.Fatalf("route table %d: %v", mark, err)
		}
		rule := netlink.NewRule()
		rule.Family = unix.AF_INET
		rule.Mark = mark
		rule.Table = int(mark)
		rule.Priority = 1000
		if err := l.gw.Handle.RuleAdd(rule); err != nil {
			t.Fatalf("rule fwmark %d: %v", mark, err)
		}
	}
	l.start(t, l.hm, Spec{Tap: "tap1", Role: Server, Port: 1191})
	l.start(t, l.hm, Spec{Tap: "tap2", Role: Server, Port: 1192})
	l.start(t, l.gm, Spec{Tap: "tap1", Role: Client, Port: 1191, Remote: hubAddr, Device: "gv1", Mark: 101})
	l.start(t, l.gm, Spec{Tap: "tap2", Role: Client, Port: 1192, Remote: hubAddr, Device: "gv2", Mark: 102})
	addAddr(t, l.hub, "tap1", "10.8.1.1/24")
	addAddr(t, l.gw, "tap1", "10.8.1.2/24")
	addAddr(t, l.hub, "tap2", "10.8.2.1/24")
	addAddr(t, l.gw, "tap2", "10.8.2.2/24")
	pingOK(t, l.gw, "10.8.1.1")
	pingOK(t, l.gw, "10.8.2.1")

	// Link i leaves by underlay i: 50 quick pings through tapN show up on
	// hvN, while the other underlay carries only background traffic
	// (keepalives at 1/s, IPv6 neighbour discovery on the TAPs).
	rx := func(name string) uint64 {
		lk, err := l.hub.Handle.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		return lk.Attrs().Statistics.RxPackets
	}
	for _, c := range []struct{ dst, via, other string }{{"10.8.1.1", "hv1", "hv2"}, {"10.8.2.1", "hv2", "hv1"}} {
		via, other, began := rx(c.via), rx(c.other), time.Now()
		out, err := l.gw.Command(context.Background(), "ping", "-n", "-q", "-c", "50", "-i", "0.01", "-W", "1", c.dst).CombinedOutput()
		if err != nil {
			t.Fatalf("ping %s: %v\n%s", c.dst, err, out)
		}
		dVia, dOther := rx(c.via)-via, rx(c.other)-other
		t.Logf("ping %s: %s rx +%d, %s rx +%d in %s", c.dst, c.via, dVia, c.other, dOther, time.Since(began))
		if dVia < 50 || dOther >= 25 {
			t.Errorf("ping %s: %s rx +%d, %s rx +%d: not by its own underlay", c.dst, c.via, dVia, c.other, dOther)
		}
	}
}

// TestKernelDevices checks the real TAP handling: persistence, the alias
// that marks ours, and "idle" meaning no process has it open.
func TestKernelDevices(t *testing.T) {
	ns := nstest.New(t, "tap")
	h, err := netns.GetFromPath(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	d, err := newKernelDevices(h, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.close() })
	if err := d.createTap("tap9", false); err != nil {
		t.Fatal(err)
	}
	if _, up := tapState(t, ns, "tap9"); up {
		t.Fatal("new tap9 is up, want down")
	}
	checkNewTap(t, ns, "tap9")
	// Created in ns, not in the namespace of the test (read only).
	if _, err := netlink.LinkByName("tap9"); err == nil {
		t.Fatal("tap9 exists in the test's own namespace")
	}
	if busy, err := tapBusy(h, "tap9"); busy || err != nil {
		t.Fatalf("new tap9: busy %t %v, want idle", busy, err)
	}
	err = d.createTap("tap9", true)
	if !errors.Is(err, errkind.ErrConflict) || err.Error() != "create tap tap9: interface tap9 exists" {
		t.Errorf("second createTap = %v, want the conflict \"create tap tap9: interface tap9 exists\"", err)
	}
	if _, up := tapState(t, ns, "tap9"); up {
		t.Error("second createTap set tap9 up")
	}
	if i, err := d.inspect("tap9"); !i.found || !i.idle() || i.up || err != nil {
		t.Fatalf("inspect(tap9) = %+v %v, want an idle TAP of ours, down", i, err)
	}
	if err := d.setUp("tap9", true); err != nil {
		t.Fatal(err)
	}
	if _, up := tapState(t, ns, "tap9"); !up {
		t.Fatal("tap9 down after setUp(true)")
	}

	// A process holding it open: not idle. Attach as openvpn does.
	var fd int
	if err := nsthread.In(h, func() error {
		var err error
		fd, err = openTap("tap9", unix.IFF_TAP|unix.IFF_NO_PI)
		return err
	}); err != nil {
		t.Fatalf("attach to tap9: %v", err)
	}
	if i, _ := d.inspect("tap9"); !i.found || !i.ours || !i.busy || !i.up {
		t.Errorf("inspect(tap9) while attached = %+v, want ours, busy, up", i)
	}
	unix.Close(fd)
	if busy, err := tapBusy(h, "tap9"); busy || err != nil {
		t.Errorf("tap9 after close: busy %t %v, want idle (and still there)", busy, err)
	}

	// Not ours: a veth, and a TAP without our alias.
	nstest.Veth(t, ns, "v0", "", ns, "v1", "")
	if i, _ := d.inspect("v0"); !i.found || i.ours || i.idle() {
		t.Errorf("inspect(v0) = %+v, want found, not ours", i)
	}
	if err := d.remove("v0"); err == nil {
		t.Error("remove deleted a veth")
	}
	if err := d.createTap("v0", true); !errors.Is(err, errkind.ErrConflict) {
		t.Errorf("createTap(v0) over a veth = %v, want a conflict", err)
	}
	if lk, err := ns.Handle.LinkByName("v0"); err != nil || lk.Type() != "veth" {
		t.Errorf("v0 harmed by createTap: %v %v", lk, err)
	}
	ns.Run(t, "ip", "tuntap", "add", "dev", "tap8", "mode", "tap")
	if i, _ := d.inspect("tap8"); !i.found || i.ours || i.idle() {
		t.Errorf("inspect(tap8) = %+v, want found, not ours", i)
	}

	if err := d.remove("tap9"); err != nil {
		t.Fatal(err)
	}
	if i, _ := d.inspect("tap9"); i.found {
		t.Error("tap9 exists after remove")
	}
	if err := d.remove("tap9"); err != nil {
		t.Errorf("remove of a missing TAP: %v", err)
	}
}

// TestTLSMode: two ends in TLS mode, each with its own identity and the
// other's fingerprint, pass traffic over an AEAD data channel; an end
// presenting a certificate the hub does not pin gets no tunnel.
func TestTLSMode(t *testing.T) {
	l := newLab(t)
	hubID := testIdentity(t)
	gwID := testIdentity(t)
	strangerID := testIdentity(t)
	tlsSpec := func(s Spec, me Identity, peer string) Spec {
		s.Mode, s.CertFile, s.CertKeyFile, s.PeerFingerprints = ModeTLS, me.CertFile, me.KeyFile, []string{peer}
		return s
	}
	ctx := context.Background()
	for _, c := range []struct {
		m *Manager
		s Spec
	}{
		{l.hm, tlsSpec(Spec{Tap: "tap1", Role: Server, Port: 1191}, hubID, gwID.Fingerprint)},
		{l.hm, tlsSpec(Spec{Tap: "tap2", Role: Server, Port: 1192}, hubID, gwID.Fingerprint)},
		{l.gm, tlsSpec(Spec{Tap: "tap1", Role: Client, Port: 1191, Remote: netip.MustParseAddr("192.0.2.1"), Device: "gv1"}, gwID, hubID.Fingerprint)},
		// The stranger pins the hub rightly, but the hub does not pin it.
		{l.gm, tlsSpec(Spec{Tap: "tap2", Role: Client, Port: 1192, Remote: netip.MustParseAddr("198.51.100.1"), Device: "gv2"}, strangerID, hubID.Fingerprint)},
	} {
		if err := c.m.Start(ctx, c.s); err != nil {
			t.Fatal(err)
		}
	}
	addAddr(t, l.hub, "tap1", "10.8.1.1/24")
	addAddr(t, l.gw, "tap1", "10.8.1.2/24")
	addAddr(t, l.hub, "tap2", "10.8.2.1/24")
	addAddr(t, l.gw, "tap2", "10.8.2.2/24")
	pingOK(t, l.gw, "10.8.1.1")
	pingOK(t, l.hub, "10.8.1.2")
	// The hub's tap2 waits for the pinned gateway; a stranger's handshake fails.
	for i := 0; i < 3; i++ {
		if !pingFails(t, l.gw, "10.8.2.1") {
			t.Fatal("a gateway with a certificate the hub does not pin got a tunnel")
		}
	}
	// The control: the same link with the pinned identity works.
	if err := l.gm.Stop(ctx, "tap2"); err != nil {
		t.Fatal(err)
	}
	if err := l.gm.Start(ctx, tlsSpec(Spec{Tap: "tap2", Role: Client, Port: 1192, Remote: netip.MustParseAddr("198.51.100.1"), Device: "gv2"}, gwID, hubID.Fingerprint)); err != nil {
		t.Fatal(err)
	}
	addAddr(t, l.gw, "tap2", "10.8.2.2/24")
	pingOK(t, l.gw, "10.8.2.1")
	conf, err := os.ReadFile(filepath.Join(l.gwDir, "tap1.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), "tls-client") || !strings.Contains(string(conf), hubID.Fingerprint) || strings.Contains(string(conf), "secret ") {
		t.Errorf("gateway config is not TLS mode pinned to the hub:\n%s", conf)
	}
}

// TestReconfigure: a hub tunnel waiting for a gateway it does not pin is
// given the gateway's fingerprint by Reconfigure; openvpn restarts with
// it at once on the same TAP (same ifindex, not counted as a crash) and
// the tunnel comes up.
func TestReconfigure(t *testing.T) {
	l := newLab(t)
	hubID := testIdentity(t)
	gwID := testIdentity(t)
	ctx := context.Background()
	server := Spec{Tap: "tap1", Role: Server, Port: 1191, Mode: ModeTLS, CertFile: hubID.CertFile, CertKeyFile: hubID.KeyFile,
		PeerFingerprints: []string{hubID.Fingerprint}} // nobody but the hub itself: waiting
	if err := l.hm.Start(ctx, server); err != nil {
		t.Fatal(err)
	}
	idx, _ := tapState(t, l.hub, "tap1")
	before, _ := l.hm.Status("tap1")
	server.PeerFingerprints = []string{gwID.Fingerprint}
	if err := l.hm.Reconfigure(ctx, server); err != nil {
		t.Fatal(err)
	}
	after, _ := l.hm.Status("tap1")
	if after.PID == before.PID || after.Restarts != before.Restarts || !after.Running {
		t.Errorf("status before %+v after %+v: want a new process running on return, not counted as a restart", before, after)
	}
	client := Spec{Tap: "tap1", Role: Client, Port: 1191, Remote: netip.MustParseAddr("192.0.2.1"), Device: "gv1",
		Mode: ModeTLS, CertFile: gwID.CertFile, CertKeyFile: gwID.KeyFile, PeerFingerprints: []string{hubID.Fingerprint}}
	if err := l.gm.Start(ctx, client); err != nil {
		t.Fatal(err)
	}
	addAddr(t, l.hub, "tap1", "10.8.1.1/24")
	addAddr(t, l.gw, "tap1", "10.8.1.2/24")
	pingOK(t, l.gw, "10.8.1.1")
	if now, up := tapState(t, l.hub, "tap1"); now != idx || !up {
		t.Errorf("tap1 after Reconfigure: ifindex %d (was %d), up %t", now, idx, up)
	}
	// The hub end restarts again (its certificate list changes): the
	// gateway end, told by explicit-exit-notify, comes back at once.
	server.PeerFingerprints = []string{gwID.Fingerprint, hubID.Fingerprint}
	if err := l.hm.Reconfigure(ctx, server); err != nil {
		t.Fatal(err)
	}
	pingOK(t, l.gw, "10.8.1.1")
	server.Port = 1199
	if err := l.hm.Reconfigure(ctx, server); !errors.Is(err, errkind.ErrInvalid) {
		t.Errorf("Reconfigure with another port: %v, want invalid", err)
	}
	if err := l.hm.Reconfigure(ctx, Spec{Tap: "tap9", Role: Server, Port: 1191, KeyFile: l.key}); !errors.Is(err, errkind.ErrNotFound) {
		t.Errorf("Reconfigure of an unmanaged tunnel: %v, want not found", err)
	}
}

// TestUnprivilegedOpenVPN: with Options.User, openvpn runs as that user
// once started, in both modes, and a soft restart (SIGUSR1, as
// ping-restart does) still brings the link back: the new socket gets its
// SO_MARK (CAP_NET_ADMIN kept) and its SO_BINDTODEVICE.
func TestUnprivilegedOpenVPN(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	grp, err := user.LookupGroupId(nobody.Gid)
	if err != nil {
		t.Fatal(err)
	}
	l := newLab(t)
	opts := func(dir string) Options {
		return Options{Dir: dir, Logger: testLogger(t), MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
			StopTimeout: 3 * time.Second, User: nobody.Username, Group: grp.Name}
	}
	hm := nsManagerWith(t, l.hub, opts(t.TempDir()))
	gm := nsManagerWith(t, l.gw, opts(t.TempDir()))
	hubID := testIdentity(t)
	gwID := testIdentity(t)
	ctx := context.Background()
	specs := []struct {
		m *Manager
		s Spec
	}{
		{hm, Spec{Tap: "tap1", Role: Server, Port: 1191, KeyFile: l.key}},
		{gm, Spec{Tap: "tap1", Role: Client, Port: 1191, Remote: netip.MustParseAddr("192.0.2.1"), Device: "gv1", Mark: 7, KeyFile: l.key}},
		{hm, Spec{Tap: "tap2", Role: Server, Port: 1192, Mode: ModeTLS, CertFile: hubID.CertFile, CertKeyFile: hubID.KeyFile, PeerFingerprints: []string{gwID.Fingerprint}}},
		{gm, Spec{Tap: "tap2", Role: Client, Port: 1192, Remote: netip.MustParseAddr("198.51.100.1"), Device: "gv2", Mark: 8,
			Mode: ModeTLS, CertFile: gwID.CertFile, CertKeyFile: gwID.KeyFile, PeerFingerprints: []string{hubID.Fingerprint}}},
	}
	for _, c := range specs {
		if err := c.m.Start(ctx, c.s); err != nil {
			t.Fatal(err)
		}
	}
	addAddr(t, l.hub, "tap1", "10.8.1.1/24")
	addAddr(t, l.gw, "tap1", "10.8.1.2/24")
	addAddr(t, l.hub, "tap2", "10.8.2.1/24")
	addAddr(t, l.gw, "tap2", "10.8.2.2/24")
	pingOK(t, l.gw, "10.8.1.1")
	pingOK(t, l.gw, "10.8.2.1")
	for _, tap := range []string{"tap1", "tap2"} {
		st, _ := gm.Status(tap)
		if uid := processUID(t, st.PID); uid != nobody.Uid {
			t.Errorf("gateway openvpn of %s runs as uid %s, want %s (nobody)", tap, uid, nobody.Uid)
		}
		if err := syscall.Kill(st.PID, syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	pingOK(t, l.gw, "10.8.1.1")
	pingOK(t, l.gw, "10.8.2.1")
	for _, tap := range []string{"tap1", "tap2"} {
		if st, _ := gm.Status(tap); st.Restarts != 0 || !st.Running {
			t.Errorf("%s after SIGUSR1: %+v, want the same process running", tap, st)
		}
	}
}

// processUID is the real uid of process pid, from /proc.
func processUID(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			return f[1]
		}
	}
	t.Fatalf("no Uid line for pid %d", pid)
	return ""
}

// TestRestart: Restart ends a client's OpenVPN at once and starts a new
// one on the same TAP, not counted as a crash; the new one connects, and
// Status.Connected says when.
func TestRestart(t *testing.T) {
	l := newLab(t)
	hubID, gwID := testIdentity(t), testIdentity(t)
	ctx := context.Background()
	if err := l.hm.Start(ctx, Spec{Tap: "tap1", Role: Server, Port: 1191, Mode: ModeTLS, CertFile: hubID.CertFile,
		CertKeyFile: hubID.KeyFile, PeerFingerprints: []string{gwID.Fingerprint}}); err != nil {
		t.Fatal(err)
	}
	if err := l.gm.Start(ctx, Spec{Tap: "tap1", Role: Client, Port: 1191, Remote: netip.MustParseAddr("192.0.2.1"), Device: "gv1",
		Mode: ModeTLS, CertFile: gwID.CertFile, CertKeyFile: gwID.KeyFile, PeerFingerprints: []string{hubID.Fingerprint}}); err != nil {
		t.Fatal(err)
	}
	addAddr(t, l.hub, "tap1", "10.8.1.1/24")
	addAddr(t, l.gw, "tap1", "10.8.1.2/24")
	pingOK(t, l.gw, "10.8.1.1")
	idx, _ := tapState(t, l.gw, "tap1")
	before, _ := l.gm.Status("tap1")
	if before.Connected.IsZero() {
		t.Errorf("status %+v: want the session's time", before)
	}
	if err := l.gm.Restart(ctx, "tap1"); err != nil {
		t.Fatal(err)
	}
	after, _ := l.gm.Status("tap1")
	if after.PID == before.PID || after.Restarts != before.Restarts || !after.Running {
		t.Errorf("status before %+v after %+v: want a new process running on return, not counted as a restart", before, after)
	}
	pingOK(t, l.gw, "10.8.1.1")
	if now, _ := tapState(t, l.gw, "tap1"); now != idx {
		t.Errorf("tap1 ifindex %d after the restart, was %d", now, idx)
	}
	if st, _ := l.gm.Status("tap1"); !st.Connected.After(before.Connected) {
		t.Errorf("connected at %s after the restart, %s before: want a new session", st.Connected, before.Connected)
	}
	if err := l.gm.Restart(ctx, "tap9"); !errors.Is(err, errkind.ErrNotFound) {
		t.Errorf("Restart of an unmanaged tunnel: %v, want not found", err)
	}
}
