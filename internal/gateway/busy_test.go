package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
)

// within runs f and fails the test if it does not return within 2 s: the
// gateway's lock must not be held while a hub is asked or a bond is torn
// down.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatalf("%s blocked while another bond was busy", what)
	}
}

// TestStartDoesNotBlock starts a bond whose hub does not answer yet: the
// reads answer meanwhile, the same bond (or its TAP names) cannot be
// started twice, and it cannot be stopped before its start has answered.
func TestStartDoesNotBlock(t *testing.T) {
	w, f, g, started := startBlocked(t)
	ctx := context.Background()
	within(t, "Status", func() {
		if st := g.Status(ctx); len(st) != 0 {
			t.Errorf("status lists a bond whose start has not answered: %+v", st)
		}
	})
	within(t, "Configs", func() { g.Configs() })
	within(t, "BondParams", func() {
		if _, err := g.BondParams(ctx, "bond0"); errkind.KindOf(err) != errkind.KindNotFound {
			t.Errorf("bond_params of a bond being started: %v", err)
		}
	})
	within(t, "a second Start", func() {
		if _, err := g.Start(ctx, testsupport.SpecClient(t)); errkind.KindOf(err) != errkind.KindConflict {
			t.Errorf("second start: %v, want conflict", err)
		}
	})
	within(t, "a Start with the same TAPs", func() {
		c := testsupport.SpecClient(t)
		c.Bond = "bond1"
		if _, err := g.Start(ctx, c); errkind.KindOf(err) != errkind.KindConflict {
			t.Errorf("start of bond1 over tap1, tap2: %v, want conflict", err)
		}
	})
	within(t, "Stop", func() {
		if err := g.Stop(ctx, "bond0"); errkind.KindOf(err) != errkind.KindConflict {
			t.Errorf("stop of a bond being started: %v, want conflict", err)
		}
	})
	close(f.block)
	if err := <-started; err != nil {
		t.Fatalf("start: %v", err)
	}
	if st := g.Status(ctx); len(st) != 1 || !st[0].Present {
		t.Errorf("status after start: %+v", st)
	}
	// The other bond gets another routing slot while bond0 holds the first.
	if _, err := g.Start(ctx, otherClient(t)); err != nil {
		t.Fatal(err)
	}
	if w.tunnels["vpn1"].Mark != markFor(1, 0) {
		t.Errorf("bond1's first link has mark %#x, want slot 1's %#x", w.tunnels["vpn1"].Mark, markFor(1, 0))
	}
}

// TestStopDoesNotBlock stops a bond whose tunnels take their time to end.
func TestStopDoesNotBlock(t *testing.T) {
	w, g := startedGateway(t)
	ctx := context.Background()
	if _, err := g.Start(ctx, otherClient(t)); err != nil {
		t.Fatal(err)
	}
	w.stopping, w.stopEnter = make(chan struct{}), make(chan struct{}, 1)
	stopped := make(chan error, 1)
	go func() { stopped <- g.Stop(ctx, "bond0") }()
	<-w.stopEnter
	within(t, "Status", func() {
		if st := g.Status(ctx); len(st) != 1 || st[0].Bond != "bond1" {
			t.Errorf("status while bond0 stops: %+v", st)
		}
	})
	within(t, "a Start of the bond being stopped", func() {
		if _, err := g.Start(ctx, testsupport.SpecClient(t)); errkind.KindOf(err) != errkind.KindConflict {
			t.Errorf("start while stopping: %v, want conflict", err)
		}
	})
	within(t, "SetBondParams of another bond", func() {
		if _, err := g.SetBondParams(ctx, "bond1", api.BondParams{Primary: testsupport.Ptr("vpn2")}); err != nil {
			t.Errorf("set bond1: %v", err)
		}
	})
	close(w.stopping)
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := g.Start(ctx, testsupport.SpecClient(t)); err != nil {
		t.Errorf("start again after stop: %v", err)
	}
}

// TestCloseWaitsForStart: a daemon shutting down while a start is under
// way stops that bond too once it is up.
func TestCloseWaitsForStart(t *testing.T) {
	w, f, g, started := startBlocked(t)
	ctx := context.Background()
	closed := make(chan error, 1)
	go func() { closed <- g.Close(ctx) }()
	time.Sleep(50 * time.Millisecond)
	close(f.block)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if len(w.bonds)+len(w.tunnels)+len(w.Routes()) != 0 || len(g.Status(ctx)) != 0 {
		t.Errorf("left after close: %v %v %v", w.bonds, w.tunnels, w.Routes())
	}
}

// otherClient is the spec's client as bond1 over vpn1, vpn2.
func otherClient(t *testing.T) api.Client {
	c := testsupport.SpecClient(t)
	c.Bond, c.TapPrefix, c.Bonding.Primary = "bond1", "vpn", testsupport.Ptr("vpn1")
	return c
}
