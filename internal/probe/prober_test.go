package probe

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// nullSender takes frames and sends nothing.
type nullSender struct{ frames int }

func (s *nullSender) send([]byte) error { s.frames++; return nil }
func (s *nullSender) close() error      { return nil }

// testProber is a prober of one link at interval iv, on a fake clock, whose
// ring buffer drain is drain.
func testProber(iv time.Duration, mono *uint64, drain func(*prober)) (*prober, *[]Sample, *[]time.Duration) {
	var got []Sample
	var gaps []time.Duration
	l := &prober{
		spec: LinkSpec{Bond: "bond0", Link: "tap1", Target: netip.MustParseAddr("10.8.0.254"), Active: true},
		base: net.HardwareAddr{0x06, 0, 0, 0, 0, 0}, snd: &nullSender{},
		readStat: func() (kernelView, error) { return kernelView{}, nil },
		publish:  func(s []Sample) { got = append(got, s...) },
		setGap:   func(g time.Duration) error { gaps = append(gaps, g); return nil },
		mono:     func() uint64 { return *mono },
		active:   true,
		carrying: true,
		interval: func(bool, bool) time.Duration { return iv },
	}
	l.drain = func() { drain(l) }
	return l, &got, &gaps
}

// TestProberReplyTimeIsTheKernels: a reply read late (it did not wake the
// reader) is dated when the kernel saw it, not when it was read.
func TestProberReplyTimeIsTheKernels(t *testing.T) {
	mono := uint64(10 * time.Second)
	l, got, _ := testProber(20*time.Millisecond, &mono, func(*prober) {})
	now := time.Now()
	l.tick(now, 20*time.Millisecond, false) // slot sent at now
	read := now.Add(35 * time.Millisecond)
	mono += uint64(35 * time.Millisecond)
	slot := 0
	for i := range l.tr.slots {
		if l.tr.slots[i].pending {
			slot = i
		}
	}
	l.onReply(slot, 5*time.Millisecond, mono-uint64(30*time.Millisecond), read) // arrived 5 ms after the probe
	if len(*got) != 1 {
		t.Fatalf("samples %+v, want one reply", *got)
	}
	if s := (*got)[0]; !s.At.Equal(now.Add(5*time.Millisecond)) || s.RTT != 5*time.Millisecond {
		t.Errorf("reply at %v (rtt %v), want %v: when it arrived", s.At.Sub(now), s.RTT, 5*time.Millisecond)
	}
}

// TestProberTickDrainsBeforeLosses: the tick reads the replies waiting in
// the ring before it counts what timed out, so a reply that did not wake
// the reader is never a loss.
func TestProberTickDrainsBeforeLosses(t *testing.T) {
	mono := uint64(10 * time.Second)
	var pendingReply = -1
	l, got, _ := testProber(20*time.Millisecond, &mono, func(l *prober) {
		if pendingReply >= 0 {
			l.onReply(pendingReply, 10*time.Millisecond, mono, time.Now())
			pendingReply = -1
		}
	})
	now := time.Now()
	iv := 20 * time.Millisecond
	l.tick(now, iv, false)
	l.onReply(l.pendingSlot(t), 10*time.Millisecond, mono, now) // a first RTT: losses count from here
	l.tick(now.Add(iv), iv, false)
	pendingReply = l.pendingSlot(t)
	*got = nil
	l.tick(now.Add(iv+time.Hour), iv, false) // long past the loss timeout
	for _, s := range *got {
		if s.Lost {
			t.Fatalf("samples %+v: the reply waiting in the ring was counted lost", *got)
		}
	}
	if len(*got) == 0 {
		t.Fatal("the tick did not drain the waiting reply")
	}
}

// TestProberWakeGap: the kernel gets the wake gap of the interval to the
// next tick, written once per change: lazy at 20 ms, every reply wakes at 5 s.
func TestProberWakeGap(t *testing.T) {
	mono := uint64(10 * time.Second)
	iv := 20 * time.Millisecond
	l, _, gaps := testProber(iv, &mono, func(*prober) {})
	now := time.Now()
	l.tick(now, iv, false)
	l.tick(now.Add(iv), iv, false)
	iv = 5 * time.Second
	l.tick(now.Add(2*iv), iv, false)
	want := []time.Duration{40 * time.Millisecond, 0}
	if len(*gaps) != len(want) || (*gaps)[0] != want[0] || (*gaps)[1] != want[1] {
		t.Errorf("wake gaps written %v, want %v", *gaps, want)
	}
}

// pendingSlot is the one slot in flight.
func (l *prober) pendingSlot(t *testing.T) int {
	t.Helper()
	for i := range l.tr.slots {
		if l.tr.slots[i].pending {
			return i
		}
	}
	t.Fatal("no probe in flight")
	return -1
}

// countAlarm is an alarm that counts its sets (a poke is a set at 0).
type countAlarm struct{ sets []time.Duration }

func (a *countAlarm) set(d time.Duration) error { a.sets = append(a.sets, d); return nil }
func (a *countAlarm) wait() error               { return nil }
func (a *countAlarm) close() error              { return nil }

// idleProber is an active prober whose interval is 20 ms, 500 ms while
// idle, and whose kernel says the last data frame left at *dataTx.
func idleProber(mono, dataTx *uint64) (*prober, *[]Sample, *countAlarm) {
	l, got, _ := testProber(0, mono, func(*prober) {})
	l.interval = func(active, idle bool) time.Duration {
		if active && idle {
			return 500 * time.Millisecond
		}
		return 20 * time.Millisecond
	}
	l.readStat = func() (kernelView, error) { return kernelView{dataTxNs: *dataTx}, nil }
	a := &countAlarm{}
	l.alarm = a
	return l, got, a
}

func resumed(s []Sample) int {
	n := 0
	for _, x := range s {
		if x.Resumed {
			n++
		}
	}
	return n
}

// TestProberIdle: an active link that sent no data for IdleAfter is
// probed at the idle interval; a tick that finds data sent again brings
// the active interval back and tells the engine (a Resumed sample).
func TestProberIdle(t *testing.T) {
	mono, dataTx := uint64(100*time.Second), uint64(0)
	l, got, a := idleProber(&mono, &dataTx)
	now := time.Now()
	l.tick(now, l.currentInterval(), false)
	if iv := l.currentInterval(); iv != 500*time.Millisecond {
		t.Fatalf("no data ever sent: interval %s, want the idle one", iv)
	}
	dataTx = mono - uint64(IdleAfter/2)
	l.tick(now.Add(500*time.Millisecond), l.currentInterval(), false)
	if iv := l.currentInterval(); iv != 20*time.Millisecond {
		t.Fatalf("data sent %s ago: interval %s, want the active one", IdleAfter/2, iv)
	}
	if n := resumed(*got); n != 1 {
		t.Fatalf("%d resumed samples, want 1", n)
	}
	mono += uint64(IdleAfter)
	l.tick(now.Add(time.Second), l.currentInterval(), false)
	if iv := l.currentInterval(); iv != 500*time.Millisecond {
		t.Fatalf("no data for %s: interval %s, want the idle one", IdleAfter*3/2, iv)
	}
	sets := len(a.sets)
	l.setCarrying(false) // the engine is choosing: every link answers at once
	if iv := l.currentInterval(); iv != 20*time.Millisecond || len(a.sets) != sets+1 {
		t.Fatalf("not carrying: interval %s, %d pokes: want the active one, at once", iv, len(a.sets)-sets)
	}
	l.setCarrying(true)
	l.setActive(false)
	l.tick(now.Add(2*time.Second), l.currentInterval(), false)
	if n := resumed(*got); n != 1 {
		t.Errorf("%d resumed samples, want still 1", n)
	}
}

// TestProberResumedEvent: the kernel's event that data leaves an idle
// link again pokes the prober (a probe at once) and tells the engine,
// dated when the kernel saw it; it does nothing on a link that is not
// idle or not active.
func TestProberResumedEvent(t *testing.T) {
	mono, dataTx := uint64(100*time.Second), uint64(0)
	l, got, a := idleProber(&mono, &dataTx)
	now := time.Now()
	l.tick(now, l.currentInterval(), false) // idle
	l.onResumed(mono-uint64(3*time.Millisecond), now)
	if n := resumed(*got); n != 1 {
		t.Fatalf("%d resumed samples, want 1", n)
	}
	if s := (*got)[len(*got)-1]; !s.At.Equal(now.Add(-3*time.Millisecond)) || s.Link != "tap1" {
		t.Errorf("resumed sample %+v: want tap1's, at the kernel's time", s)
	}
	if len(a.sets) != 1 || a.sets[0] != 0 {
		t.Errorf("alarm sets %v, want one poke", a.sets)
	}
	if iv := l.currentInterval(); iv != 20*time.Millisecond {
		t.Errorf("interval %s after the event, want the active one", iv)
	}
	l.onResumed(mono, now) // not idle any more
	l.setActive(false)
	l.idle = true
	l.onResumed(mono, now) // not active
	if n := resumed(*got); n != 1 {
		t.Errorf("%d resumed samples, want still 1", n)
	}
}
