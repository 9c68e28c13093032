package probe

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// waitFor runs a.wait and returns its result, or closes a after limit and
// returns what the wait returned then.
func waitFor(t *testing.T, a *timerAlarm, limit time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- a.wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		a.close()
		return <-done
	}
}

// TestTimerAlarm: set rings once at its time, never before, a later set
// replaces an earlier one, and close ends a wait.
func TestTimerAlarm(t *testing.T) {
	a, err := newTimerAlarm()
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()

	if err := a.set(0); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(t, a, 10*time.Second); err != nil {
		t.Fatalf("set(0): %v, want a ring", err)
	}

	start := monotonic()
	if err := a.set(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(t, a, 10*time.Second); err != nil {
		t.Fatalf("set(30ms): %v, want a ring", err)
	}
	if d := time.Duration(monotonic() - start); d < 30*time.Millisecond {
		t.Errorf("rang after %v, before its 30 ms", d)
	}

	if err := a.set(0); err != nil { // replaced before it is waited for
		t.Fatal(err)
	}
	if err := a.set(time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(t, a, 100*time.Millisecond); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("set(0) then set(1h): the wait returned %v, want it to last until closed", err)
	}
	if err := a.set(0); err == nil {
		t.Error("set on a closed alarm succeeded")
	}
}

// gateSender counts frames on a channel.
type gateSender struct{ frames chan struct{} }

func (s *gateSender) send([]byte) error { s.frames <- struct{}{}; return nil }
func (s *gateSender) close() error      { return nil }

// TestProberRunPoke: run probes at once when it starts and when poked,
// also when poked during a tick, though its interval is an hour; it ends
// when its context does.
func TestProberRunPoke(t *testing.T) {
	a, err := newTimerAlarm()
	if err != nil {
		t.Fatal(err)
	}
	snd := &gateSender{frames: make(chan struct{}, 10)}
	inTick, release := make(chan struct{}), make(chan struct{})
	ticks := 0
	l := &prober{
		spec: LinkSpec{Link: "tap1", Target: netip.MustParseAddr("10.8.0.254"), Active: true},
		base: net.HardwareAddr{0x06, 0, 0, 0, 0, 0}, snd: snd, alarm: a, mono: monotonic, active: true,
		readStat: func() (kernelView, error) {
			ticks++
			if ticks == 2 { // the poked tick: poked again while in it
				inTick <- struct{}{}
				<-release
			}
			return kernelView{}, nil
		},
		publish:  func([]Sample) {},
		interval: func(bool, bool) time.Duration { return time.Hour },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.run(ctx)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("run did not end with its context")
		}
	}()
	frame := func(what string) {
		t.Helper()
		select {
		case <-snd.frames:
		case <-time.After(10 * time.Second):
			t.Fatalf("no probe %s", what)
		}
	}
	frame("at start")
	l.poke()
	select {
	case <-inTick:
	case <-time.After(10 * time.Second):
		t.Fatal("no tick after a poke")
	}
	l.poke() // during the tick
	close(release)
	frame("for the first poke")
	frame("for the poke during the tick")
	select {
	case <-snd.frames:
		t.Fatal("a probe more than the pokes asked for")
	case <-time.After(50 * time.Millisecond):
	}
}

// TestMonoClock: the clock read without a system call is CLOCK_MONOTONIC,
// within the skew it states.
func TestMonoClock(t *testing.T) {
	c := newMonoClock()
	for range 100 {
		before := monotonic()
		got := c.now()
		after := monotonic()
		if lo, hi := before-uint64(c.skew), after+uint64(c.skew); got < lo || got > hi {
			t.Fatalf("mono %d outside [%d, %d] (skew %v)", got, lo, hi, c.skew)
		}
	}
}
