package probe

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/nsthread"
	"github.com/multilink/multilink/internal/tcattach"
	"github.com/multilink/multilink/internal/testsupport"
	"github.com/multilink/multilink/internal/tunnel"
)

var hubIP = netip.MustParseAddr("10.8.0.254")

// world is the spec's topology without the bond: a hub namespace whose
// bridge br0 (10.8.0.254/24) holds two server TAPs, a gateway namespace
// with the two client TAPs, each tunnel over its own veth underlay.
type world struct {
	hub, gw *nstest.NS
	// hm and gm run the hub's and the gateway's OpenVPN tunnels.
	hm, gm *tunnel.Manager
}

func newWorld(t testing.TB) *world {
	t.Helper()
	nstest.RequireAdmin(t)
	nstest.RequireCommand(t, "openvpn")
	w := &world{hub: nstest.New(t, "prhub"), gw: nstest.New(t, "prgw")}
	nstest.Veth(t, w.hub, "u1", "192.0.2.1/24", w.gw, "u1", "192.0.2.2/24")
	nstest.Veth(t, w.hub, "u2", "198.51.100.1/24", w.gw, "u2", "198.51.100.2/24")
	key := filepath.Join(t.TempDir(), "link.key")
	if err := tunnel.GenerateKey(key); err != nil {
		t.Fatal(err)
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	if err := w.hub.Handle.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr(hubIP.String() + "/24")
	if err := w.hub.Handle.AddrAdd(br, addr); err != nil {
		t.Fatal(err)
	}
	if err := w.hub.Handle.LinkSetUp(br); err != nil {
		t.Fatal(err)
	}
	w.hm, w.gm = manager(t, w.hub), manager(t, w.gw)
	hm, gm := w.hm, w.gm
	for i, remote := range []string{"192.0.2.1", "198.51.100.1"} {
		tap := []string{"tap1", "tap2"}[i]
		port := 1191 + i
		start(t, hm, tunnel.Spec{Tap: tap, Role: tunnel.Server, Port: port, KeyFile: key})
		start(t, gm, tunnel.Spec{Tap: tap, Role: tunnel.Client, Port: port, KeyFile: key,
			Remote: netip.MustParseAddr(remote), Device: []string{"u1", "u2"}[i]})
		l, err := w.hub.Handle.LinkByName(tap)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.hub.Handle.LinkSetMaster(l, br); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func manager(t testing.TB, ns *nstest.NS) *tunnel.Manager {
	t.Helper()
	m, err := tunnel.NewManager(tunnel.Options{Dir: t.TempDir(), NetNS: ns.Path(), StopTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	testsupport.CloseAtEnd(t, "the tunnels in "+ns.Name, 20*time.Second, m.Close)
	return m
}

func start(t testing.TB, m *tunnel.Manager, s tunnel.Spec) {
	t.Helper()
	if err := m.Start(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

func (w *world) monitor(t *testing.T, opts Options) *Monitor {
	t.Helper()
	opts.NetNS = w.gw.Path()
	m, err := NewMonitor(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close monitor: %v", err)
		}
	})
	for _, tap := range []string{"tap1", "tap2"} {
		if err := m.Add(context.Background(), LinkSpec{Bond: "bond0", Link: tap, Target: hubIP, Active: tap == "tap1"}); err != nil {
			t.Fatalf("add %s: %v", tap, err)
		}
	}
	return m
}

func linkOf(t *testing.T, m *Monitor, tap string) LinkStats {
	t.Helper()
	for _, s := range m.Links() {
		if s.Link == tap {
			return s
		}
	}
	t.Fatalf("%s not in Links()", tap)
	return LinkStats{}
}

// waitReplies waits (bounded) until tap has n probe replies.
func waitReplies(t *testing.T, m *Monitor, tap string, n uint64, within time.Duration) LinkStats {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := linkOf(t, m, tap)
		if s.Counters.ProbeReplies >= n && s.HasRTT {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d probe replies after %s, want %d: %+v", tap, s.Counters.ProbeReplies, within, n, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tcxPrograms counts the TCX programs on a device in direction at.
func tcxPrograms(t *testing.T, ns *nstest.NS, dev string, at ebpf.AttachType) int {
	t.Helper()
	l, err := ns.Handle.LinkByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	err = nsthread.In(netns.NsHandle(ns.Fd()), func() error {
		r, err := link.QueryPrograms(link.QueryOptions{Target: l.Attrs().Index, Attach: at})
		if err == nil {
			n = len(r.Programs)
		}
		return err
	})
	if err != nil {
		t.Fatalf("query tcx on %s: %v", dev, err)
	}
	return n
}

// ourFilters counts our cls_bpf filters on a device, both directions.
func ourFilters(t *testing.T, ns *nstest.NS, dev string) int {
	t.Helper()
	l, err := ns.Handle.LinkByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := tcattach.Filters(ns.Handle, l.Attrs().Index, filterName)
	if err != nil {
		t.Fatal(err)
	}
	return len(fs)
}

func TestMonitorOnTunnels(t *testing.T) {
	w := newWorld(t)
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"tcx", Options{Attach: tcattach.TCX}},
		{"legacy", Options{Attach: tcattach.Legacy}},
		{"polling", Options{Attach: tcattach.Auto, NoRingbuf: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.opts.Attach == tcattach.TCX && !haveTCX(t) {
				// Before 6.6 the automatic mode must find TCX missing.
				m, err := NewMonitor(Options{Attach: tcattach.TCX, NetNS: w.gw.Path()})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				err = m.Add(context.Background(), LinkSpec{Bond: "bond0", Link: "tap1", Target: hubIP})
				if !errors.Is(err, ebpf.ErrNotSupported) {
					t.Fatalf("tcx attach before Linux 6.6: %v, want ErrNotSupported", err)
				}
				return
			}
			m := w.monitor(t, c.opts)
			// 70 replies: the loss window (50) is past the tunnels' warm-up.
			s1 := waitReplies(t, m, "tap1", 70, 30*time.Second)
			s2 := waitReplies(t, m, "tap2", 2, 20*time.Second)
			t.Logf("tap1: %d replies, srtt %v, loss %.2f, attach %s; tap2: %d replies, srtt %v",
				s1.Counters.ProbeReplies, s1.RTTSmoothed, s1.Loss, s1.Attach, s2.Counters.ProbeReplies, s2.RTTSmoothed)
			if c.opts.Attach != tcattach.Auto && s1.Attach != c.opts.Attach {
				t.Errorf("attach %s, want %s", s1.Attach, c.opts.Attach)
			}
			if !s1.Active || s2.Active || s1.Interval != DefaultInterval || s2.Interval != DefaultBackupInterval {
				t.Errorf("roles: tap1 active %t every %v, tap2 active %t every %v", s1.Active, s1.Interval, s2.Active, s2.Interval)
			}
			for _, s := range []LinkStats{s1, s2} {
				lossy := s.Decided >= 10 && s.Loss > 0.1
				if s.RTTSmoothed <= 0 || s.RTTSmoothed > time.Second || lossy || s.LastReplyAge < 0 {
					t.Errorf("%s: srtt %v loss %v last reply %v", s.Link, s.RTTSmoothed, s.Loss, s.LastReplyAge)
				}
				if s.Counters.ArpRequests < s.Counters.ProbesSent || s.Counters.ProbeReplies > s.Counters.ProbesSent ||
					s.Counters.ArpReplies < s.Counters.ProbeReplies || s.Counters.Malformed != 0 {
					t.Errorf("%s: counters %+v", s.Link, s.Counters)
				}
			}
			var total uint64
			for _, b := range s1.Histogram {
				total += b.Count
			}
			// One read of the map; a reply may land between two counters.
			if d := int64(s1.Counters.ProbeReplies) - int64(total); d < 0 || d > 1 {
				t.Errorf("histogram holds %d, replies %d", total, s1.Counters.ProbeReplies)
			}

			// Probes to the hub go by unicast once it answered: the hub's
			// bridge does not flood tap1's probes down tap2.
			before := linkOf(t, m, "tap2").Counters.RxFrames
			time.Sleep(2 * time.Second)
			after := linkOf(t, m, "tap2").Counters.RxFrames
			// (Some IPv6 neighbour discovery and MLD is flooded: a few frames.)
			if after-before > 50 {
				t.Errorf("tap2 received %d frames in 2 s while tap1 was probed 100 times: flooded", after-before)
			}
			t.Logf("tap2 received %d frames in 2 s", after-before)

			// Switching roles speeds tap2 up at once.
			if err := m.SetActive("tap2", true); err != nil {
				t.Fatal(err)
			}
			if err := m.SetActive("tap1", false); err != nil {
				t.Fatal(err)
			}
			n := linkOf(t, m, "tap2").Counters.ProbeReplies
			waitReplies(t, m, "tap2", n+20, 5*time.Second)

			mode := s1.Attach
			for _, tap := range []string{"tap1", "tap2"} {
				if err := m.Remove(tap); err != nil {
					t.Fatal(err)
				}
			}
			if c.opts.Attach == tcattach.Auto && (mode == tcattach.TCX) != haveTCX(t) {
				t.Errorf("automatic attach chose %s on this kernel", mode)
			}
			if mode == tcattach.TCX {
				for _, at := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
					if n := tcxPrograms(t, w.gw, "tap1", at); n != 0 {
						t.Errorf("%d TCX programs left on tap1 (%s)", n, at)
					}
				}
			} else if n := ourFilters(t, w.gw, "tap1"); n != 0 {
				t.Errorf("%d filters of ours left on tap1", n)
			}
			if len(m.Links()) != 0 {
				t.Errorf("links after Remove: %v", m.Links())
			}
		})
	}
}

// TestMonitorSubscribe: every reply and loss reaches a subscriber; a cut
// underlay turns into losses.
func TestMonitorSubscribe(t *testing.T) {
	w := newWorld(t)
	m := w.monitor(t, Options{})
	ch, cancel := m.Subscribe(1024)
	defer cancel()
	got := map[string]int{}
	deadline := time.After(20 * time.Second)
	for got["tap1"] < 10 {
		select {
		case s := <-ch:
			if !s.Lost {
				got[s.Link]++
			}
		case <-deadline:
			t.Fatalf("replies seen: %v", got)
		}
	}
	// Cut tap1's underlay on the hub side: losses follow.
	u1, err := w.hub.Handle.LinkByName("u1")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.hub.Handle.LinkSetDown(u1); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	for {
		select {
		case s := <-ch:
			if s.Link == "tap1" && s.Lost {
				t.Logf("first loss on tap1 %v after the cut", time.Since(cut))
				if l := linkOf(t, m, "tap1"); l.Loss == 0 {
					t.Errorf("loss figure still 0 after a loss: %+v", l.Figures)
				}
				return
			}
		case <-deadline:
			t.Fatal("no loss reported for tap1 after its underlay was cut")
		}
	}
}

// TestProbingGoesOnDuringAdd: while an Add holds the monitor (it loads,
// verifies and attaches under m.mu, which takes long on a small CPU), the
// probed links' ticks and the ring reader go on: no link goes unprobed
// because another is being added.
func TestProbingGoesOnDuringAdd(t *testing.T) {
	w := newWorld(t)
	m := w.monitor(t, Options{})
	// The tunnel first: under emulation its handshake can outlast the 2 s
	// below (lab, 6.12: 0 replies in them).
	waitReplies(t, m, "tap1", 1, 20*time.Second)
	ch, cancel := m.Subscribe(1024)
	defer cancel()
	replies := func(d time.Duration) int {
		n := 0
		for end := time.After(d); ; {
			select {
			case s := <-ch:
				if s.Link == "tap1" && !s.Lost {
					n++
				}
			case <-end:
				return n
			}
		}
	}
	if n := replies(2 * time.Second); n < 10 {
		t.Fatalf("%d replies on tap1 in 2 s before the hold", n)
	}
	m.mu.Lock() // what Add holds
	n := replies(500 * time.Millisecond)
	m.mu.Unlock()
	if n < 5 {
		t.Errorf("%d replies on tap1 in 500 ms while the monitor was held (probed every %v)", n, DefaultInterval)
	}
}

// haveTCX reports whether the kernel has TCX (6.6+).
func haveTCX(t *testing.T) bool { return nstest.KernelAtLeast(t, 6, 6) }
