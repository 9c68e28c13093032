package dedup

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/multilink/multilink/internal/bond"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/tcattach"
)

var hubUDP = netip.MustParseAddrPort("10.8.0.254:5001")

// lab is a gateway with an eBPF bond over tap1 and tap2, whose far ends
// hub1 and hub2 are ports of the hub's bridge br0 (10.8.0.254), as on a
// hub; the bond is 10.8.0.253.
type lab struct {
	gw, hub *nstest.NS
	bond    *bond.EBPF
	filter  *Filter // loaded in the hub, attached to nothing yet
}

func newLab(t *testing.T, mode string) *lab {
	t.Helper()
	nstest.RequireCommand(t, "ping")
	l := &lab{gw: nstest.New(t, "dedupgw"), hub: nstest.New(t, "deduphub")}
	// No IPv6: its own chatter (the bond's neighbour discovery and MLD,
	// which may send a frame again within the window: a copy to the
	// filter) made the drop count of a run without duplicates 1, not 0.
	for _, ns := range []*nstest.NS{l.gw, l.hub} {
		for _, k := range []string{"all", "default"} {
			ns.Run(t, "sysctl", "-q", "-w", "net.ipv6.conf."+k+".disable_ipv6=1")
		}
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	if err := l.hub.Handle.LinkAdd(br); err != nil {
		t.Fatalf("add the hub's bridge: %v", err)
	}
	for _, n := range []string{"1", "2"} {
		nstest.Veth(t, l.gw, "tap"+n, "", l.hub, "hub"+n, "")
		port, err := l.hub.Handle.LinkByName("hub" + n)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.hub.Handle.LinkSetMaster(port, br); err != nil {
			t.Fatalf("hub%s into br0: %v", n, err)
		}
	}
	addr, _ := netlink.ParseAddr("10.8.0.254/24")
	if err := l.hub.Handle.AddrAdd(br, addr); err != nil {
		t.Fatal(err)
	}
	if err := l.hub.Handle.LinkSetUp(br); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	e, err := bond.NewEBPF(l.gw.Handle, netns.NsHandle(l.gw.Fd()), tcattach.Auto, "", log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := bond.Spec{Name: "bond0", Address: netip.MustParsePrefix("10.8.0.253/24"), Slaves: []string{"tap1", "tap2"}}
	if err := e.Create(ctx, s); err != nil {
		t.Fatalf("create the bond: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Delete(ctx, "bond0"); err != nil {
			t.Errorf("delete the bond: %v", err)
		}
		if err := e.Close(); err != nil {
			t.Errorf("close the bond driver: %v", err)
		}
	})
	l.bond = e
	f, err := New(l.hub.Handle, netns.NsHandle(l.hub.Fd()), Options{Attach: mode, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("close the filter: %v", err)
		}
	})
	l.filter = f
	l.ping(t)
	return l
}

// ping has the gateway ping the hub until one answer (bounded): the
// neighbours are resolved before anything is counted.
func (l *lab) ping(t *testing.T) {
	t.Helper()
	for range 10 {
		if l.gw.Command(context.Background(), "ping", "-c", "1", "-W", "1", "10.8.0.254").Run() == nil {
			return
		}
	}
	t.Fatal("the gateway cannot ping the hub (10 tries)")
}

func (l *lab) dup(t *testing.T, link string) {
	t.Helper()
	if err := l.bond.SetDuplicate(context.Background(), "bond0", link, 0); err != nil {
		t.Fatal(err)
	}
}

func (l *lab) attach(t *testing.T, ns *nstest.NS, f *Filter, devs ...string) {
	t.Helper()
	for _, d := range devs {
		if err := f.Attach(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
}

func (l *lab) stats(t *testing.T) Stats {
	t.Helper()
	s, err := l.filter.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDedupHub: with the bond's duplicate link set, the host behind the
// hub's bridge receives every datagram twice without the filter and once
// with it on both ports; with no duplicate link the filter drops nothing.
func TestDedupHub(t *testing.T) {
	for _, mode := range []string{tcattach.TCX, tcattach.Legacy} {
		t.Run(mode, func(t *testing.T) {
			if mode == tcattach.TCX && !nstest.KernelAtLeast(t, 6, 6) {
				t.Skip("TCX needs Linux 6.6")
			}
			testDedupHub(t, newLab(t, mode))
		})
	}
}

func testDedupHub(t *testing.T, l *lab) {
	const n = 200
	l.dup(t, "tap2")
	counts := nstest.UDPCount(t, l.gw, l.hub, hubUDP, n, time.Millisecond, nil)
	if lost, once, more := nstest.Tally(counts); more != n {
		t.Errorf("no filter: %d datagrams lost, %d once, %d more than once, want all %d twice", lost, once, more, n)
	}

	l.attach(t, l.hub, l.filter, "hub1", "hub2")
	before := l.stats(t)
	counts = nstest.UDPCount(t, l.gw, l.hub, hubUDP, n, time.Millisecond, nil)
	if lost, once, more := nstest.Tally(counts); once != n {
		t.Errorf("filter on: %d datagrams lost, %d once, %d more than once, want all %d once", lost, once, more, n)
	}
	after := l.stats(t)
	if d := after.Dropped - before.Dropped; d < n {
		t.Errorf("filter on: %d copies dropped for %d datagrams", d, n)
	}
	t.Logf("filter on, duplicating: %+v", after)

	l.dup(t, "")
	before = l.stats(t)
	counts = nstest.UDPCount(t, l.gw, l.hub, hubUDP, n, time.Millisecond, nil)
	if lost, once, more := nstest.Tally(counts); once != n {
		t.Errorf("not duplicating: %d datagrams lost, %d once, %d more than once", lost, once, more)
	}
	after = l.stats(t)
	if after.Seen-before.Seen < n || after.Dropped != before.Dropped {
		t.Errorf("not duplicating: seen %d, dropped %d, want >= %d seen and none dropped", after.Seen-before.Seen, after.Dropped-before.Dropped, n)
	}
}

// cut drops every frame in and out of dev in ns (a tunnel that went
// dead, its TAP still up) until the test ends.
func cut(t *testing.T, ns *nstest.NS, dev string) {
	t.Helper()
	drop, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "test_cut", Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()}}) // TC_ACT_SHOT
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drop.Close() })
	l, err := ns.Handle.LinkByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	err = ns.Do(func() error {
		a, err := tcattach.Attach(ns.Handle, l.Attrs().Index, []tcattach.Program{{Prog: drop, Ingress: true}, {Prog: drop}},
			tcattach.Options{Name: "multilink_test_cut", First: true, Priority: 1})
		if err == nil {
			t.Cleanup(func() { _ = a.Detach() })
		}
		return err
	})
	if err != nil {
		t.Fatalf("cut %s: %v", dev, err)
	}
}

// TestDedupCut: the active link cut in both directions in the middle of
// a stream, with the bond duplicating to tap2 and the filter on the hub:
// no datagram lost and none delivered twice; no ping lost (the hub answers
// over tap2 once it hears the bond only there, and the bond takes tap2's
// frames). Without duplication the same cut loses the rest of the stream.
func TestDedupCut(t *testing.T) {
	const n = 300
	udp := func(t *testing.T, dup string) (lost, once, more int) {
		l := newLab(t, tcattach.Auto)
		l.attach(t, l.hub, l.filter, "hub1", "hub2")
		l.dup(t, dup)
		counts := nstest.UDPCount(t, l.gw, l.hub, hubUDP, n, 2*time.Millisecond, func(i int) {
			if i == n/3 {
				cut(t, l.hub, "hub1")
			}
		})
		return nstest.Tally(counts)
	}
	t.Run("udp", func(t *testing.T) {
		if lost, once, more := udp(t, "tap2"); once != n {
			t.Errorf("cut while duplicating: %d datagrams lost, %d once, %d more than once, want all %d once", lost, once, more, n)
		}
	})
	t.Run("ping", func(t *testing.T) {
		l := newLab(t, tcattach.Auto)
		l.attach(t, l.hub, l.filter, "hub1", "hub2")
		l.dup(t, "tap2")
		if lost := l.gw.PingLoss(t, "10.8.0.254", func() { cut(t, l.hub, "hub1") }); lost != 0 {
			t.Errorf("%d pings lost over the cut while duplicating", lost)
		}
		st, err := l.bond.Stats(context.Background(), "bond0")
		if err != nil {
			t.Fatal(err)
		}
		if st.InDup == 0 {
			t.Errorf("no answer taken on the duplicate link: %+v", st)
		}
	})
	t.Run("control", func(t *testing.T) {
		if lost, _, _ := udp(t, ""); lost < n/2 {
			t.Errorf("cut without duplicating: %d of %d datagrams lost, want the cut to lose the rest", lost, n)
		}
	})
}

// TestDedupGatewayOrder: on a gateway TAP, attached after the bond, the
// filter runs before bond_in, and the bond still works; Detach and Attach
// refuse what is not there.
func TestDedupGatewayOrder(t *testing.T) {
	if !nstest.KernelAtLeast(t, 6, 6) {
		t.Skip("the order is TCX's: Linux 6.6")
	}
	l := newLab(t, tcattach.Auto)
	f, err := New(l.gw.Handle, netns.NsHandle(l.gw.Fd()), Options{Attach: tcattach.TCX})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	l.attach(t, l.gw, f, "tap1", "tap2")
	tap1, err := l.gw.Handle.LinkByName("tap1")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	err = l.gw.Do(func() (err error) {
		names, err = tcattach.IngressChain(tap1.Attrs().Index)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || names[0] != "dedup" || names[1] != "bond_in" {
		t.Errorf("tap1's ingress runs %v, want [dedup bond_in]", names)
	}
	l.ping(t)
	if err := f.Detach(context.Background(), "tap1"); err != nil {
		t.Fatal(err)
	}
	if err := f.Detach(context.Background(), "tap1"); err == nil {
		t.Error("a second detach worked")
	}
	if err := f.Attach(context.Background(), "tap9"); err == nil {
		t.Error("attach to a device that does not exist worked")
	}
}
