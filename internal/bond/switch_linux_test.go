package bond

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/tcattach"
	"github.com/multilink/multilink/internal/testsupport"
)

// TestKernelSwitchGrace: a switch sets the primary at once and opens the
// other slaves (all_slaves_active) for the grace only; an operator's
// all_slaves_active is never undone.
func TestKernelSwitchGrace(t *testing.T) {
	_, k := created(t)
	ctx := context.Background()
	if err := k.Switch(ctx, "bond0", "tap2", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	i := info(t, k)
	if *i.Params.Primary != "tap2" || *i.Params.AllSlavesActive != 1 {
		t.Fatalf("right after the switch: primary %s all_slaves_active %d, want tap2 1", *i.Params.Primary, *i.Params.AllSlavesActive)
	}
	time.Sleep(300 * time.Millisecond)
	if i := info(t, k); *i.Params.AllSlavesActive != 0 || *i.Params.Primary != "tap2" {
		t.Errorf("after the grace: all_slaves_active %d primary %s, want 0 tap2", *i.Params.AllSlavesActive, *i.Params.Primary)
	}

	// The operator turns it on during a grace: the timer leaves it on.
	if err := k.Switch(ctx, "bond0", "tap1", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := k.Set(ctx, "bond0", testsupport.Decode[api.BondParams](t, `{"all_slaves_active": 1}`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if i := info(t, k); *i.Params.AllSlavesActive != 1 {
		t.Errorf("the grace's end undid the operator's all_slaves_active 1")
	}
	// Already on: a switch leaves it on.
	if err := k.Switch(ctx, "bond0", "tap2", 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if i := info(t, k); *i.Params.AllSlavesActive != 1 {
		t.Errorf("a switch turned the operator's all_slaves_active off")
	}
}

// TestKernelSwitchGracePending: a switch during a grace extends it (the
// first timer is stopped), and Delete and Close stop the pending timer, so
// that it cannot touch a bond made later under the same name.
func TestKernelSwitchGracePending(t *testing.T) {
	_, k := created(t)
	ctx := context.Background()
	if err := k.Switch(ctx, "bond0", "tap2", time.Hour); err != nil {
		t.Fatal(err)
	}
	first := k.grace["bond0"]
	if err := k.Switch(ctx, "bond0", "tap1", time.Hour); err != nil {
		t.Fatal(err)
	}
	second, ok := k.grace["bond0"]
	if !ok || second.gen == first.gen || first.timer.Stop() {
		t.Fatalf("second switch: pending %v, gens %d %d, first timer still running", ok, first.gen, second.gen)
	}
	if i := info(t, k); *i.Params.AllSlavesActive != 1 || *i.Params.Primary != "tap1" {
		t.Errorf("during the grace: all_slaves_active %d primary %s", *i.Params.AllSlavesActive, *i.Params.Primary)
	}
	if err := k.Delete(ctx, "bond0"); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.grace["bond0"]; ok || second.timer.Stop() {
		t.Errorf("delete left the grace pending")
	}
	// A late timer of the deleted bond finds nothing to undo.
	k.endGrace("bond0", second.gen)
}

// TestEBPFSwitchGrace: after a switch the member the bond left still
// delivers for the grace, and is dropped again after it.
func TestEBPFSwitchGrace(t *testing.T) {
	nstest.RequireCommand(t, "ping")
	l := newEBPFLab(t, tcattach.Auto)
	ctx := context.Background()
	if err := l.e.Create(ctx, specBond()); err != nil {
		t.Fatal(err)
	}
	ping(t, l.hub, "10.8.0.253")
	// A broadcast from the hub reaches both members: flush the hub's
	// neighbour entry so that its next ping starts with an ARP request.
	broadcast := func() {
		l.hub.Run(t, "ip", "neigh", "flush", "dev", "br0")
		ping(t, l.hub, "10.8.0.253")
	}
	if err := l.e.Switch(ctx, "bond0", "tap2", time.Second); err != nil {
		t.Fatal(err)
	}
	if i, _ := l.e.Info(ctx, "bond0"); i.Active != "tap2" || *i.Params.Primary != "tap2" {
		t.Fatalf("after the switch: active %s primary %s", i.Active, *i.Params.Primary)
	}
	before := l.counters(t)
	broadcast()
	during := l.counters(t)
	if during.InGrace == before.InGrace {
		t.Errorf("no frame taken from tap1 within its grace: %+v", during)
	}
	time.Sleep(1200 * time.Millisecond)
	over := l.counters(t) // other chatter (IPv6) kept coming during the grace
	broadcast()
	after := l.counters(t)
	if after.InGrace != over.InGrace || after.DroppedBackup == over.DroppedBackup {
		t.Errorf("after the grace tap1's frames are still taken: at its end %+v, after %+v", over, after)
	}
	if err := l.e.Switch(ctx, "bond0", "tap9", 0); err == nil || !strings.Contains(err.Error(), "tap9") {
		t.Errorf("switch to tap9: %v", err)
	}
}
