package bond

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/bpf"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/tcattach"
)

// hubUDP is where the duplicate tests send their datagrams: the hub's bridge.
var hubUDP = netip.MustParseAddrPort("10.8.0.254:5001")

// addTap3 gives the lab a third TAP, its far end a port of the hub's bridge.
func (l *ebpfLab) addTap3(t *testing.T) {
	t.Helper()
	nstest.Veth(t, l.gw, "tap3", "", l.hub, "hub3", "")
	port, err := l.hub.Handle.LinkByName("hub3")
	if err != nil {
		t.Fatal(err)
	}
	br, err := l.hub.Handle.LinkByName("br0")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.hub.Handle.LinkSetMaster(port, br); err != nil {
		t.Fatalf("hub3 into br0: %v", err)
	}
}

func (l *ebpfLab) stats(t *testing.T) EBPFStats {
	t.Helper()
	s, err := l.e.Stats(context.Background(), "bond0")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// send streams n datagrams from the gateway to the hub and returns how
// many arrived once and more than once, failing on a loss.
func (l *ebpfLab) send(t *testing.T, n int) (once, more int) {
	t.Helper()
	lost, once, more := nstest.Tally(nstest.UDPCount(t, l.gw, l.hub, hubUDP, n, time.Millisecond, nil))
	if lost != 0 {
		t.Errorf("%d of %d datagrams lost", lost, n)
	}
	return once, more
}

// TestEBPFDuplicate: with no duplicate link (or the active one) nothing is
// copied; with one, every frame the bond sends arrives on both members
// (the hub, with no duplicate filter, delivers each datagram twice) and
// the hub's answers on the duplicate link are taken; a switch to the
// duplicate link ends the duplication, a switch to a third keeps it, ""
// stops it.
func TestEBPFDuplicate(t *testing.T) {
	nstest.RequireCommand(t, "ping")
	l := newEBPFLab(t, tcattach.Auto)
	l.addTap3(t)
	ctx := context.Background()
	s := specBond()
	s.Slaves = []string{"tap1", "tap2", "tap3"}
	if err := l.e.Create(ctx, s); err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = l.e.Delete(ctx, "bond0") })
	ping(t, l.gw, "10.8.0.254") // the neighbours are resolved before the counts
	const n = 100
	dup := func(link string) {
		t.Helper()
		if err := l.e.SetDuplicate(ctx, "bond0", link, 0); err != nil {
			t.Fatalf("set duplicate %q: %v", link, err)
		}
	}
	wantDup := func(want string) {
		t.Helper()
		if got, err := l.e.Duplicate(ctx, "bond0"); err != nil || got != want {
			t.Errorf("duplicate link %q (%v), want %q", got, err, want)
		}
	}

	for _, link := range []string{"", "tap1"} {
		dup(link)
		before := l.stats(t)
		if once, more := l.send(t, n); once != n || more != 0 {
			t.Errorf("duplicate %q: %d datagrams once, %d more than once, want all %d once", link, once, more, n)
		}
		if c := l.stats(t).Duplicated - before.Duplicated; c != 0 {
			t.Errorf("duplicate %q (none, or the active link): %d frames copied", link, c)
		}
	}

	dup("tap2")
	wantDup("tap2")
	before := l.stats(t)
	if once, more := l.send(t, n); more != n {
		t.Errorf("duplicate tap2: %d datagrams once, %d twice, want all %d twice", once, more, n)
	}
	after := l.stats(t)
	if c := after.Duplicated - before.Duplicated; c < n {
		t.Errorf("%d frames copied for %d datagrams", c, n)
	}
	if after.Out-before.Out != after.Duplicated-before.Duplicated {
		t.Errorf("out %d, copied %d: every frame out should be copied", after.Out-before.Out, after.Duplicated-before.Duplicated)
	}
	// The hub answers on whichever port it learnt the bond's MAC last; the
	// bond takes answers on the duplicate link too.
	ping(t, l.gw, "10.8.0.254")
	ping(t, l.hub, "10.8.0.253")

	if err := l.e.Switch(ctx, "bond0", "tap3", 0); err != nil {
		t.Fatal(err)
	}
	wantDup("tap2") // a switch elsewhere keeps it
	if err := l.e.Switch(ctx, "bond0", "tap2", 0); err != nil {
		t.Fatal(err)
	}
	wantDup("") // a switch to it ends it
	before = l.stats(t)
	if once, _ := l.send(t, n); once != n {
		t.Errorf("after the switch to the duplicate link: %d of %d datagrams once", once, n)
	}
	if c := l.stats(t).Duplicated - before.Duplicated; c != 0 {
		t.Errorf("after the switch to the duplicate link: %d frames copied", c)
	}
	dup("tap1")
	wantDup("tap1")
	dup("")
	wantDup("")
	if info, err := l.e.Info(ctx, "bond0"); err != nil || info.Active != "tap2" {
		t.Errorf("SetDuplicate moved the bond: %+v %v", info, err)
	}

	// The link that stops getting copies keeps a switch's grace: the hub
	// may have learnt the bond there from a copy.
	state := func() bpf.BondBondState {
		t.Helper()
		var st bpf.BondBondState
		if err := l.e.obj.Bonds.Lookup(uint32(l.e.bonds["bond0"].peer.Attrs().Index), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	idx := func(link string) uint32 { return uint32(l.e.bonds["bond0"].members[link]) }
	if err := l.e.SetDuplicate(ctx, "bond0", "tap3", 0); err != nil {
		t.Fatal(err)
	}
	now, err := monotonicNs()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.e.SetDuplicate(ctx, "bond0", "", time.Hour); err != nil {
		t.Fatal(err)
	}
	if st := state(); st.Prev != idx("tap3") || st.PrevUntilNs < now+uint64(time.Hour) || st.Active != idx("tap2") {
		t.Errorf("copies to tap3 stopped with an hour's grace: state %+v, want tap3 (%d) taken from for the hour", st, idx("tap3"))
	}
	// A switch's grace that is still running stays.
	if err := l.e.Switch(ctx, "bond0", "tap1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := l.e.SetDuplicate(ctx, "bond0", "tap3", 0); err != nil {
		t.Fatal(err)
	}
	if err := l.e.SetDuplicate(ctx, "bond0", "", time.Minute); err != nil {
		t.Fatal(err)
	}
	if st := state(); st.Prev != idx("tap2") || st.Active != idx("tap1") {
		t.Errorf("copies stopped during a switch's grace: state %+v, want the switch's old link tap2 (%d) kept", st, idx("tap2"))
	}
}

// TestEBPFDuplicateRefuses: an unknown bond or a link that is not a
// member change nothing.
func TestEBPFDuplicateRefuses(t *testing.T) {
	l := newEBPFLab(t, tcattach.Auto)
	ctx := context.Background()
	if err := l.e.SetDuplicate(ctx, "bond0", "tap2", 0); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("no bond yet: %v, want not found", err)
	}
	if err := l.e.Create(ctx, specBond()); err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = l.e.Delete(ctx, "bond0") })
	if err := l.e.SetDuplicate(ctx, "bond9", "tap2", 0); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("bond9: %v, want not found", err)
	}
	if _, err := l.e.Duplicate(ctx, "bond9"); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("read bond9: %v, want not found", err)
	}
	if _, err := l.e.Stats(ctx, "bond9"); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("stats of bond9: %v, want not found", err)
	}
	if err := l.e.SetDuplicate(ctx, "bond0", "tap2", 0); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"tap9", "bond0", "lo"} {
		if err := l.e.SetDuplicate(ctx, "bond0", bad, 0); errkind.KindOf(err) != errkind.KindInvalid {
			t.Errorf("link %s: %v, want invalid", bad, err)
		}
	}
	if got, err := l.e.Duplicate(ctx, "bond0"); err != nil || got != "tap2" {
		t.Errorf("after refused changes the duplicate link is %q (%v), want tap2", got, err)
	}
}

// TestChooserDuplicateKernel: a kernel bond cannot duplicate; an unknown
// bond is not found.
func TestChooserDuplicateKernel(t *testing.T) {
	f, s := left(t, nil)
	c, err := NewChooser(NewKernel(f, nil), nil, api.DriverAuto)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.SetDuplicate(ctx, "bond0", "tap2", 0); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("before create: %v, want not found", err)
	}
	if err := c.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	err = c.SetDuplicate(ctx, "bond0", "tap2", 0)
	if errkind.KindOf(err) != errkind.KindUnsupported || !errors.Is(err, ErrNotSupported) {
		t.Errorf("kernel bond: %v, want unsupported matching ErrNotSupported", err)
	}
}
