package probe

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/multilink/multilink/api"
)

// LinkSpec is a link to probe.
type LinkSpec struct {
	Bond   string
	Link   string     // the TAP
	Target netip.Addr // the probe target: the hub bridge's address
	Active bool       // probe at Interval; else at BackupInterval
}

// kernelView is what a link reads of its kernel counters each tick.
type kernelView struct {
	api.LinkCounters
	lastRxNs, lastReplyNs, rttLastNs, rttSumNs uint64
	dataTxNs                                   uint64 // the last data frame sent (coarse clock); 0: none
	peer                                       net.HardwareAddr
	slotSent                                   [Slots]uint64
	hist                                       []uint64
}

// prober probes one TAP. Its goroutine (run) sends the probes; replies reach
// it through the Monitor (ring buffer) or its own polling of the counters.
type prober struct {
	spec     LinkSpec
	ifindex  int
	base     net.HardwareAddr // probe MAC, slot bits 0
	snd      sender
	read     func() (kernelView, error) // every counter (snapshots)
	readStat func() (kernelView, error) // the probe state only (ticks)
	polling  bool                       // no ring buffer: learn replies from the counters
	drain    func()                     // reads the ring buffer's pending events (nil: polling)
	setGap   func(time.Duration) error  // writes the link's wake gap to the kernel
	publish  func([]Sample)
	alarm    alarm
	mono     func() uint64 // CLOCK_MONOTONIC ns, as bpf_ktime_get_ns

	armMu sync.Mutex // held while the alarm is set
	poked bool       // under armMu: tick again at once

	mu        sync.Mutex
	tr        tracker
	active    bool
	idle      bool // no data sent for IdleAfter: probed at the idle interval if active and carrying
	carrying  bool // carries the bond's traffic (the engine's active link, settled): may idle
	suspect   bool // its loss looks high: probed every BurstInterval while active
	interval  func(active, idle bool) time.Duration
	kernel    kernelView // the probe state as read at the last tick
	sendError string
	gap       time.Duration // the wake gap the kernel has (0 at load)
}

// alarm is what a prober waits on between ticks (timerAlarm).
type alarm interface {
	set(d time.Duration) error // ring once, d from now (at once for d <= 0)
	wait() error               // until it rings; an error once closed
	close() error
}

// maxLazyInterval is the longest probe interval at which a link's replies
// wait for its next probe to be read (see wakeGap).
const maxLazyInterval = 50 * time.Millisecond

// wakeGap is the link's wake gap at probe interval iv: whether a steady
// reply wakes the daemon's ring reader. Each wake-up is an interrupt on the
// CPU that took the reply (irq_work; in a VM an exit, about 30 us), and
// the fast active link would take 50 of them a second. So at an interval
// up to maxLazyInterval the prober reads the ring itself before each probe
// (a reply waits at most one interval, its time is the kernel's), and only
// a reply more than two intervals after the previous one (the first after
// a loss or a stall, a sudden delay) wakes the reader. Slower links (the
// backups at 5 s) wake it for every reply: they are rare.
func wakeGap(iv time.Duration) time.Duration {
	if iv > maxLazyInterval {
		return 0
	}
	return 2 * iv
}

func (l *prober) currentInterval() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	iv := l.interval(l.active, l.idling())
	if l.suspect && l.active {
		iv = min(iv, BurstInterval)
	}
	return iv
}

// setSuspect sets whether the link, if active, is probed every
// BurstInterval; a link made suspect is probed at once.
func (l *prober) setSuspect(suspect bool) { l.raise(&l.suspect, suspect) }

// raise sets a flag that speeds probing up when true (under l.mu) and
// pokes the prober when it was just raised.
func (l *prober) raise(flag *bool, v bool) {
	l.mu.Lock()
	raised := v && !*flag
	*flag = v
	l.mu.Unlock()
	if raised {
		l.poke()
	}
}

// setActive changes the link's role; a link becoming active is probed at
// once, so it is measured afresh before traffic moves to it.
func (l *prober) setActive(active bool) { l.raise(&l.active, active) }

// poke makes the prober tick at once, even if it is ticking now.
func (l *prober) poke() {
	l.armMu.Lock()
	defer l.armMu.Unlock()
	l.poked = true
	_ = l.alarm.set(0) // a failed set leaves the tick at its time
}

// run probes until ctx ends; it closes the alarm (at once when ctx ends,
// which ends a wait).
func (l *prober) run(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { _ = l.alarm.close() })
	defer func() {
		if stop() {
			_ = l.alarm.close()
		}
	}()
	l.poke()
	for {
		if err := l.alarm.wait(); err != nil || ctx.Err() != nil {
			l.alarmFailed(ctx, err)
			return
		}
		l.armMu.Lock()
		force := l.poked
		l.poked = false
		l.armMu.Unlock()
		// One reading of the interval for the wake gap and the alarm: a
		// role change between two readings would leave the kernel a fast
		// link's gap while the next drain is a backup interval away.
		// The tick says when the next one is due: a probe, or a reply's
		// deadline before it.
		wait := l.tick(time.Now(), l.currentInterval(), force)
		l.armMu.Lock()
		if l.poked {
			wait = 0 // poked during the tick
		}
		err := l.alarm.set(wait)
		l.armMu.Unlock()
		if err != nil {
			l.alarmFailed(ctx, err)
			return
		}
	}
}

// alarmFailed records why run stops when ctx has not ended. The alarm
// fails only once closed, as ctx ends: nothing else fails on a timerfd.
// Should it, the link stops being probed, which looks like a dead link
// (the safe side), and the error is in its figures.
func (l *prober) alarmFailed(ctx context.Context, err error) {
	if err == nil || ctx.Err() != nil {
		return
	}
	l.mu.Lock()
	l.sendError = err.Error()
	l.mu.Unlock()
}

// unicastFor is how long after the target's last reply probes still go to
// its MAC; after that they are broadcast again (the hub may have changed).
func unicastFor(interval time.Duration) time.Duration { return max(2*time.Second, 3*interval) }

// tick reads the probe state, counts what timed out, and sends a probe if
// one is due at interval iv, or if forced (poked: a role change probes at
// once); it returns how long to wait for the next tick.
func (l *prober) tick(now time.Time, iv time.Duration, force bool) time.Duration {
	if l.drain != nil {
		l.drain() // replies that did not wake the reader: before the losses are counted
		l.updateGap(iv)
	}
	kv, readErr := l.readStat()
	var samples []Sample
	l.mu.Lock()
	if readErr == nil {
		if l.polling {
			samples = l.pollReplies(kv, now)
		}
		l.kernel = kv
		idle := idleAt(kv.dataTxNs, l.mono())
		if l.idling() && !idle {
			// Data is back and no event said so (no ring buffer, or the
			// tick read it first): tell the engine as the event would.
			samples = append(samples, Sample{At: now, Resumed: true})
		}
		l.idle = idle
	}
	lost, slot, ok := l.tr.tick(now, iv, force)
	samples = append(samples, lost...)
	dst := broadcast
	if k := l.kernel; k.peer != nil && k.lastReplyNs != 0 &&
		time.Duration(l.mono()-k.lastReplyNs) < unicastFor(l.interval(l.active, l.idling())) {
		dst = k.peer
	}
	l.mu.Unlock()
	if ok {
		err := l.snd.send(probeFrame(dst, l.base, slot, l.spec.Target))
		l.mu.Lock()
		l.sendError = ""
		if err != nil {
			l.sendError = err.Error()
			samples = append(samples, l.tr.failed(slot, now)...)
		}
		l.mu.Unlock()
	}
	l.publish(l.stamp(samples))
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tr.wait(time.Now(), iv)
}

// pollReplies finds the probes the kernel has seen answered since the last
// tick (their slot's departure time cleared) when there is no ring buffer.
// Their RTT is the mean of the RTTs added meanwhile.
func (l *prober) pollReplies(kv kernelView, now time.Time) []Sample {
	var answered []int
	for i := range l.tr.slots {
		if l.tr.slots[i].pending && kv.slotSent[i] == 0 {
			answered = append(answered, i)
		}
	}
	if len(answered) == 0 {
		return nil
	}
	rtt := time.Duration(kv.rttLastNs)
	if n := kv.ProbeReplies - l.kernel.ProbeReplies; n > 1 && kv.rttSumNs > l.kernel.rttSumNs {
		rtt = time.Duration((kv.rttSumNs - l.kernel.rttSumNs) / n)
	}
	var out []Sample
	for _, i := range answered {
		if s, ok := l.tr.reply(i, rtt, now); ok {
			out = append(out, s)
		}
	}
	return out
}

// updateGap gives the kernel the wake gap of the interval iv to the next
// tick, when it changed (a failed write is tried again at the next tick).
func (l *prober) updateGap(iv time.Duration) {
	want := wakeGap(iv)
	l.mu.Lock()
	have := l.gap
	l.mu.Unlock()
	if want == have || l.setGap == nil {
		return
	}
	if err := l.setGap(want); err != nil {
		return
	}
	l.mu.Lock()
	l.gap = want
	l.mu.Unlock()
}

// idling says whether the link is probed at the idle interval: the
// active link, carrying the bond's traffic, sending no data. l.mu held.
func (l *prober) idling() bool { return l.active && l.carrying && l.idle }

// setCarrying says whether the link carries the bond's traffic; one that
// stops (the engine is choosing) is probed at its rate at once.
func (l *prober) setCarrying(carrying bool) {
	l.mu.Lock()
	was := l.idling()
	l.carrying = carrying
	now := l.idling()
	l.mu.Unlock()
	if was && !now {
		l.poke()
	}
}

// idleAt tells whether a link whose last data frame left at dataTxNs (0:
// none) is idle at mono.
func idleAt(dataTxNs, mono uint64) bool {
	return dataTxNs == 0 || mono > dataTxNs && time.Duration(mono-dataTxNs) > IdleAfter
}

// onResumed takes the kernel's word that data leaves the link again after
// IdleAfter without any, at atNs: an idle active link is probed at the
// active rate from now, its first probe at once, and the engine is told
// (a Resumed sample), so that its silence is judged at that rate from now.
func (l *prober) onResumed(atNs uint64, now time.Time) {
	if m := l.mono(); atNs != 0 && m >= atNs {
		now = now.Add(-time.Duration(m - atNs))
	}
	l.mu.Lock()
	was := l.idling()
	l.idle = false
	l.mu.Unlock()
	if !was {
		return
	}
	l.poke()
	l.publish(l.stamp([]Sample{{At: now, Resumed: true}}))
}

// onReply takes a ring buffer event for slot: a reply the kernel saw at
// atNs (bpf_ktime_get_ns), read at now.
func (l *prober) onReply(slot int, rtt time.Duration, atNs uint64, now time.Time) {
	if m := l.mono(); atNs != 0 && m >= atNs {
		now = now.Add(-time.Duration(m - atNs)) // when it arrived, not when it was read
	}
	l.mu.Lock()
	s, ok := l.tr.reply(slot, rtt, now)
	l.mu.Unlock()
	if ok {
		l.publish(l.stamp([]Sample{s}))
	}
}

func (l *prober) stamp(s []Sample) []Sample {
	for i := range s {
		s[i].Bond, s[i].Link = l.spec.Bond, l.spec.Link
	}
	return s
}

// snapshot returns the link's figures with fresh kernel counters.
func (l *prober) snapshot(attach string) LinkStats {
	kv, err := l.read()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		kv = l.kernel
	}
	st := LinkStats{
		Bond: l.spec.Bond, Link: l.spec.Link, Ifindex: l.ifindex, Attach: attach,
		Active: l.active, Idle: l.idling(), Interval: l.interval(l.active, l.idling()), Figures: l.tr.fig,
		InFlight: l.tr.inFlight(), Counters: kv.LinkCounters, RTTSum: time.Duration(kv.rttSumNs),
		LastReplyAge: -1, LastRxAge: -1, SendError: l.sendError,
	}
	now := l.mono()
	if kv.lastReplyNs != 0 && now >= kv.lastReplyNs {
		st.LastReplyAge = time.Duration(now - kv.lastReplyNs)
	}
	if kv.lastRxNs != 0 && now >= kv.lastRxNs {
		st.LastRxAge = time.Duration(now - kv.lastRxNs)
	}
	st.Histogram = buckets(kv.hist)
	return st
}

// buckets converts the kernel's log2 histogram: bucket 0 holds RTTs under
// 1 us, bucket b holds [2^(b-1), 2^b) us, the last one everything above.
func buckets(hist []uint64) []Bucket {
	out := make([]Bucket, len(hist))
	for b, n := range hist {
		out[b].Count = n
		if b < len(hist)-1 {
			out[b].UpperBound = time.Duration(1<<b) * time.Microsecond
		}
	}
	return out
}
