package bond

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/testsupport"
)

// left is a fake with the spec's bond (marked, tap2 active) made by a
// Kernel that is gone, and its transcript cleared.
func left(t *testing.T, change func(*Spec)) (*fakeNL, Spec) {
	t.Helper()
	f := newFake("tap1", "tap2", "tap3")
	s := specBond()
	s.Mark = testMark
	if change != nil {
		change(&s)
	}
	k := NewKernel(f, nil)
	ctx := context.Background()
	if err := k.Create(ctx, s); err != nil {
		t.Fatalf("create: %v", err)
	}
	if len(s.Slaves) > 1 {
		if err := k.Switch(ctx, s.Name, s.Slaves[1], 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Release(ctx); err != nil {
		t.Fatal(err)
	}
	f.ops = nil
	return f, s
}

// TestAdoptUnchanged: taking over a bond that matches the spec writes no
// parameter and keeps the active slave the engine steered.
func TestAdoptUnchanged(t *testing.T) {
	f, s := left(t, nil)
	k := NewKernel(f, nil)
	if err := k.Create(context.Background(), s); err != nil {
		t.Fatalf("create over the bond left: %v", err)
	}
	if got, want := f.transcript(), "addr replace bond0 10.8.0.253/24\n"; got != want {
		t.Errorf("adoption changed\n%swant only\n%s", got, want)
	}
	if i := info(t, k); i.Active != "tap2" || *i.Params.Primary != "tap2" {
		t.Errorf("active %q primary %q after adoption, want tap2 both", i.Active, *i.Params.Primary)
	}
}

// TestAdoptChangedParam: one parameter changed in the spec is exactly one
// write.
func TestAdoptChangedParam(t *testing.T) {
	f, s := left(t, nil)
	s.Params.ArpInterval = testsupport.Ptr(200)
	k := NewKernel(f, nil)
	if err := k.Create(context.Background(), s); err != nil {
		t.Fatalf("create over the bond left: %v", err)
	}
	want := "modify bond0 arp_interval=200\naddr replace bond0 10.8.0.253/24\n"
	if got := f.transcript(); got != want {
		t.Errorf("adoption with arp_interval changed did\n%swant\n%s", got, want)
	}
	if i := info(t, k); i.Active != "tap2" {
		t.Errorf("active %q, want tap2 kept", i.Active)
	}
}

// TestAdoptMissingSlave: a slave added to the spec is enslaved, nothing
// else moves.
func TestAdoptMissingSlave(t *testing.T) {
	f, s := left(t, nil)
	s.Slaves = []string{"tap1", "tap2", "tap3"}
	k := NewKernel(f, nil)
	if err := k.Create(context.Background(), s); err != nil {
		t.Fatalf("create over the bond left: %v", err)
	}
	want := "down tap3\nmaster tap3 bond0\nup tap3\naddr replace bond0 10.8.0.253/24\n"
	if got := f.transcript(); got != want {
		t.Errorf("adoption with tap3 added did\n%swant\n%s", got, want)
	}
	if i := info(t, k); i.Active != "tap2" || len(i.Slaves) != 3 {
		t.Errorf("after adoption: %+v", i)
	}
}

// TestAdoptRefusesForeignSlave: a slave the spec does not name is a
// conflict, and nothing changes.
func TestAdoptRefusesForeignSlave(t *testing.T) {
	f, s := left(t, nil)
	s.Slaves = []string{"tap1"}
	s.Params.Primary = testsupport.Ptr("tap1")
	k := NewKernel(f, nil)
	if err := k.Create(context.Background(), s); errkind.KindOf(err) != errkind.KindConflict {
		t.Errorf("adoption with tap2 not in the spec: %v, want conflict", err)
	}
	if got := f.transcript(); got != "" {
		t.Errorf("a refused adoption changed\n%s", got)
	}
}

// TestAdoptNotOurs: a bond without our mark is not taken over (conflict,
// as before), nor one whose mark is another instance's.
func TestAdoptNotOurs(t *testing.T) {
	f, s := left(t, nil)
	k := NewKernel(f, nil)
	s.Mark = "multilink:fedcba9876543210"
	if err := k.Create(context.Background(), s); errkind.KindOf(err) != errkind.KindConflict {
		t.Errorf("another instance's bond: %v, want conflict", err)
	}
	if got := f.transcript(); got != "" {
		t.Errorf("a refused create changed\n%s", got)
	}
}

// TestAdoptFailsRecreates: a take-over the kernel refuses for another
// reason than the spec removes the bond and makes it afresh.
func TestAdoptFailsRecreates(t *testing.T) {
	f, s := left(t, nil)
	s.Params.ArpInterval = testsupport.Ptr(200)
	f.failOn, f.failErr = "modify bond0 arp_interval=200", unix.EIO
	k := NewKernel(f, nil)
	if err := k.Create(context.Background(), s); err != nil {
		t.Fatalf("create: %v", err)
	}
	got := f.transcript()
	for _, want := range []string{"del bond0", "add bond bond0"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
}

// TestReleaseWaitsGrace: Release waits for a pending switch grace, which
// puts all_slaves_active back; the bond is left as it is otherwise.
func TestReleaseWaitsGrace(t *testing.T) {
	f, k := created(t)
	ctx := context.Background()
	if err := k.Switch(ctx, "bond0", "tap2", 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if f.byName("bond0").bond.allSlavesActive != 1 {
		t.Fatal("the switch did not open the other slaves")
	}
	if err := k.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if f.byName("bond0").bond.allSlavesActive != 0 {
		t.Errorf("all_slaves_active left at 1 after Release\n%s", f.transcript())
	}
	if f.byName("bond0") == nil || len(f.slavesOf(f.byName("bond0"))) != 2 {
		t.Error("Release changed the bond")
	}
}

// TestReleaseEndsGraceWithContext: a context that ends puts
// all_slaves_active back at once.
func TestReleaseEndsGraceWithContext(t *testing.T) {
	f, k := created(t)
	if err := k.Switch(context.Background(), "bond0", "tap2", time.Hour); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := k.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if f.byName("bond0").bond.allSlavesActive != 0 {
		t.Errorf("all_slaves_active left at 1 after Release\n%s", f.transcript())
	}
}

// TestChooserAdopts: the Chooser sends the Create of a bond left to the
// driver of its kind, automatic or asked, and Release forgets it.
func TestChooserAdopts(t *testing.T) {
	for _, driver := range []string{"", api.DriverKernel} {
		f, s := left(t, nil)
		s.Driver = driver
		c, err := NewChooser(NewKernel(f, nil), nil, api.DriverAuto)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := c.Create(ctx, s); err != nil {
			t.Fatalf("driver %q: create over the bond left: %v", driver, err)
		}
		if got := f.transcript(); got != "addr replace bond0 10.8.0.253/24\n" {
			t.Errorf("driver %q: adoption did\n%s", driver, got)
		}
		if i, err := c.Info(ctx, "bond0"); err != nil || i.Active != "tap2" {
			t.Errorf("driver %q: info %+v %v", driver, i, err)
		}
		if err := c.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Info(ctx, "bond0"); errkind.KindOf(err) != errkind.KindNotFound {
			t.Errorf("driver %q: the Chooser still knows bond0 after Release: %v", driver, err)
		}
		if f.byName("bond0") == nil {
			t.Errorf("driver %q: Release removed the bond", driver)
		}
	}
}

// TestChooserDiscardsOtherKind: a bond left of the kernel kind, with the
// eBPF driver asked for, is removed before the eBPF driver is tried.
func TestChooserDiscardsOtherKind(t *testing.T) {
	f, s := left(t, nil)
	s.Driver = api.DriverEBPF
	c, err := NewChooser(NewKernel(f, nil), nil, api.DriverAuto)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(context.Background(), s); errkind.KindOf(err) != errkind.KindUnsupported {
		t.Errorf("create with no eBPF driver: %v, want unsupported", err)
	}
	if f.byName("bond0") != nil {
		t.Errorf("the kernel bond left was not removed\n%s", f.transcript())
	}
}

// TestKernelAdoptReal (kernel lab: needs bonding): a Kernel releases its
// bond, a new one takes it over while a 10 ms ping crosses it: none lost,
// the same bond (ifindex), the active slave and every parameter as before.
func TestKernelAdoptReal(t *testing.T) {
	nstest.RequireCommand(t, "ping")
	l := newLab(t)
	ctx := context.Background()
	s := specBond()
	s.Mark = testMark
	if err := l.k.Create(ctx, s); err != nil {
		t.Fatalf("create: %v", err)
	}
	ping(t, l.gw, "10.8.0.254")
	if err := l.k.Switch(ctx, "bond0", "tap2", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ping(t, l.gw, "10.8.0.254")
	before, err := l.k.Info(ctx, "bond0")
	if err != nil {
		t.Fatal(err)
	}
	index := ifindex(t, l.gw, "bond0")
	var k2 *Kernel
	lost := l.gw.PingLoss(t, "10.8.0.254", func() {
		if err := l.k.Release(ctx); err != nil {
			t.Fatalf("release: %v", err)
		}
		h, err := NewHandleAt(netns.NsHandle(l.gw.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		k2 = NewKernel(h, slog.New(slog.NewTextHandler(t.Output(), nil)))
		if err := k2.Create(ctx, s); err != nil {
			t.Fatalf("create over the released bond: %v", err)
		}
	})
	if lost != 0 {
		t.Errorf("%d pings lost across the hand-over", lost)
	}
	after, err := k2.Info(ctx, "bond0")
	if err != nil {
		t.Fatal(err)
	}
	if i := ifindex(t, l.gw, "bond0"); i != index {
		t.Errorf("bond0 was made again: ifindex %d, was %d", i, index)
	}
	// before was read during the switch's grace; Release waited for it to
	// end, which puts all_slaves_active back to 0.
	before.Params.AllSlavesActive = testsupport.Ptr(0)
	if a, b := jsonOf(t, after), jsonOf(t, before); a != b {
		t.Errorf("the bond changed across the hand-over\nbefore %s\nafter %s", b, a)
	}
	if after.Active != "tap2" || *after.Params.AllSlavesActive != 0 {
		t.Errorf("after the hand-over: active %q all_slaves_active %d, want tap2 and 0", after.Active, *after.Params.AllSlavesActive)
	}
	if err := k2.Delete(ctx, "bond0"); err != nil {
		t.Fatal(err)
	}
}
