package failover

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/multilink/multilink/internal/probe"
)

// This file is a simulator of a bond's links on a virtual clock: the real
// Engine and the probe's real bookkeeping (probe.Tracker) against links
// that delay and lose packets the way netem does, event by event, with no
// kernel, no sleep and no wall clock. replay_test.go runs scenarios on it.

// netem is one direction of a link as Linux netem shapes it on egress
// (`delay D J loss P`): each packet is lost with probability loss, else
// delayed by delay ± jitter, uniform, not below zero; packets with
// different delays overtake each other.
type netem struct {
	delay, jitter time.Duration
	loss          float64
	// inOrder: no packet overtakes another (package impairment's
	// emulator: a packet's due time is at least the one before it), so
	// jitter comes in bunches, a slow packet holding back those behind.
	inOrder bool
}

// pass draws one packet's fate: its delay, or false if it is lost.
func (n netem) pass(rng *rand.Rand) (time.Duration, bool) {
	if n.loss > 0 && rng.Float64() < n.loss {
		return 0, false
	}
	d := n.delay
	if n.jitter > 0 {
		d += time.Duration(rng.Int64N(2*int64(n.jitter)+1)) - n.jitter
	}
	return max(d, 0), true
}

// simLink is one link: its two directions, the prober's bookkeeping and
// the kernel's probe state for it (probe.c).
type simLink struct {
	name        string
	idx         uint8 // in sim.order
	toHub, toGw netem
	dueHub      time.Time // the latest arrival scheduled each way (netem.inOrder)
	dueGw       time.Time
	cut         bool // every packet still to arrive is lost
	rng         *rand.Rand

	tr      probe.Tracker
	fast    bool
	gen     uint64 // the pending tick's generation: a poke replaces it
	poked   bool   // the pending tick is a poke's: it sends a probe
	suspect bool   // probed at the burst rate while fast

	slotSent   [probe.Slots]time.Time // departure of the probe in flight per slot; zero: none
	lastReply  time.Time              // any reply from the target (Monitor.LastReply)
	probeReply time.Time              // the last reply matched to a probe: the wake gap's reference
	gap        time.Duration          // the wake gap the prober last set
}

// ringEvent is a reply the kernel put in the ring buffer, not read yet.
type ringEvent struct {
	link *simLink
	slot int
	at   time.Time
	rtt  time.Duration
}

// simEvent is something that happens at a virtual time, ns after
// simEpoch. It holds no pointer (the queue moves events a lot, and the
// garbage collector's write barriers would cost more than the moves).
type simEvent struct {
	at   int64
	seq  uint64 // ties in order of scheduling
	gen  uint64
	arg  int32 // the probe's slot
	link uint8 // index in sim.order
	kind simKind
}

type simKind uint8

const (
	evTick  simKind = iota // a link's prober ticks
	evAtHub                // a probe reaches the hub, which answers at once
	evAtGw                 // a reply reaches the gateway's TAP
)

// simQueue is a binary min-heap of events by time, then order of
// scheduling (container/heap would box every event).
type simQueue []simEvent

func (q simQueue) less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}

func (q *simQueue) push(e simEvent) {
	*q = append(*q, e)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *simQueue) pop() simEvent {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h.less(l, m) {
			m = l
		}
		if r < n && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}

// simConfig describes a simulated bond.
type simConfig struct {
	seed   uint64
	policy Policy
	links  []simLinkConfig // the first is the primary, and active at the start
	// The probe's intervals; zero: its defaults.
	activeInterval, standbyInterval time.Duration
}

// simLinkConfig is a link's two directions.
type simLinkConfig struct {
	name        string
	toHub, toGw netem
}

// sim runs an Engine against simulated links. It is the engine's Steerer
// and Prober, and plays the part of Engine.Run: the engine takes each
// sample as it is delivered and steps then, at the deadline step returns,
// and every reconcileEvery.
type sim struct {
	ctx    context.Context // what the engine's calls get
	now    time.Time
	ivs    [2]time.Duration // standby, active
	links  map[string]*simLink
	order  []*simLink // by index, as events name them
	q      simQueue
	seq    uint64
	ring   []ringEvent
	e      *Engine
	active string // the bond's active link
	events <-chan Event
	// The bond's copies (Duplicate): to dup since dupSince; dupTotal
	// before that.
	dup      string
	dupSince time.Time
	dupTotal time.Duration
	// onEvent sees every switch and state change as the engine adds it.
	onEvent func(Event)
	// onSample sees every probe sample as the engine takes it.
	onSample func(probe.Sample)

	timer, reconcileAt time.Time // Run's timer and reconcile ticker
}

// simEpoch is the virtual clock's start.
var simEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newSim(c simConfig) *sim {
	s := &sim{ctx: context.Background(), now: simEpoch, links: map[string]*simLink{},
		ivs: [2]time.Duration{probe.DefaultBackupInterval, probe.DefaultInterval}}
	if c.activeInterval > 0 {
		s.ivs[1] = c.activeInterval
	}
	if c.standbyInterval > 0 {
		s.ivs[0] = c.standbyInterval
	}
	names := make([]string, 0, len(c.links))
	for i, lc := range c.links {
		l := &simLink{name: lc.name, idx: uint8(i), toHub: lc.toHub, toGw: lc.toGw,
			rng: rand.New(rand.NewPCG(c.seed, uint64(i)+1))}
		s.links[lc.name] = l
		s.order = append(s.order, l)
		names = append(names, lc.name)
	}
	s.active = names[0]
	s.e = NewEngine(EngineOptions{Bond: "bond0", Links: names, Primary: names[0], Policy: c.policy,
		Steerer: s, Prober: s, Events: NewEvents(0)})
	for _, n := range names { // judged from the virtual clock's start
		_, iv, _ := s.Figures(n)
		s.e.judges[n] = newJudge(s.now, iv, s.e.firstSentOf(n))
	}
	_, s.events, _, _ = s.e.events.Watch("bond0", 0)
	// Each prober ticks at once when added; then Run starts: the bond's
	// active link, the probe rates, a step at once.
	for i := range names {
		s.schedule(simEvent{at: toNs(s.now), kind: evTick, link: uint8(i)})
	}
	s.e.active, s.e.steered = s.active, s.active
	s.e.setProbeRates(s.now)
	s.timer, s.reconcileAt = s.now, s.now.Add(reconcileEvery)
	return s
}

func (s *sim) schedule(e simEvent) {
	s.seq++
	e.seq = s.seq
	s.q.push(e)
}

// toNs is t as an event's time; fromNs is the reverse.
func toNs(t time.Time) int64    { return int64(t.Sub(simEpoch)) }
func fromNs(ns int64) time.Time { return simEpoch.Add(time.Duration(ns)) }

// after schedules an event of link d after now.
func (s *sim) after(d time.Duration, kind simKind, l *simLink, arg int, gen uint64) {
	s.schedule(simEvent{at: toNs(s.now) + int64(d), kind: kind, link: l.idx, arg: int32(arg), gen: gen})
}

// runUntil plays every event up to end, and leaves the clock there.
func (s *sim) runUntil(end time.Time) {
	for {
		t, which := s.timer, 1
		if s.reconcileAt.Before(t) {
			t, which = s.reconcileAt, 2
		}
		if len(s.q) > 0 && s.q[0].at <= toNs(t) {
			t, which = fromNs(s.q[0].at), 0
		}
		if t.After(end) {
			s.now = end
			return
		}
		s.now = t
		switch which {
		case 0:
			s.handle(s.q.pop())
		case 1:
			s.step()
		case 2:
			s.reconcileAt = t.Add(reconcileEvery)
			s.e.reconcile(s.ctx, t)
			s.step()
		}
	}
}

// step is Run's: evaluate, then set the timer to the deadline returned.
func (s *sim) step() {
	next := s.e.step(s.ctx, s.now)
	s.timer = s.now.Add(max(next.Sub(s.now), time.Millisecond))
	for {
		select {
		case ev := <-s.events:
			if s.onEvent != nil {
				s.onEvent(ev)
			}
		default:
			return
		}
	}
}

func (s *sim) handle(ev simEvent) {
	l := s.order[ev.link]
	switch ev.kind {
	case evTick:
		if ev.gen == l.gen {
			s.tick(l)
		}
	case evAtHub:
		if l.cut {
			return
		}
		if d, ok := l.toGw.pass(l.rng); ok {
			s.after(s.inOrder(l.toGw, &l.dueGw, d), evAtGw, l, int(ev.arg), 0)
		}
	case evAtGw:
		s.reply(l, int(ev.arg))
	}
}

// inOrder is the delay d of a packet sent now over n, held back behind
// the one before it when n keeps order (due: that one's arrival).
func (s *sim) inOrder(n netem, due *time.Time, d time.Duration) time.Duration {
	if !n.inOrder {
		return d
	}
	at := s.now.Add(d)
	if at.Before(*due) {
		at = *due
	}
	*due = at
	return at.Sub(s.now)
}

// tick is a prober's tick (prober.tick): read the replies waiting in the
// ring, give the kernel the wake gap, count the losses, send a probe if one
// is due; the next tick when the tracker says (the next probe, or a reply's
// deadline before it), at the interval read now.
func (s *sim) tick(l *simLink) {
	iv := s.interval(l)
	samples := s.drainRing()
	l.gap = probe.WakeGap(iv)
	lost, slot, ok := l.tr.Tick(s.now, iv, l.poked)
	l.poked = false
	for _, smp := range lost {
		samples = append(samples, s.stamp(l, smp))
	}
	if ok {
		l.slotSent[slot] = s.now // the egress program stamps it, whatever becomes of the probe
		if !l.cut {
			if d, ok := l.toHub.pass(l.rng); ok {
				s.after(s.inOrder(l.toHub, &l.dueHub, d), evAtHub, l, slot, 0)
			}
		}
	}
	l.gen++
	s.after(l.tr.Wait(s.now, iv), evTick, l, 0, l.gen)
	s.deliver(samples)
}

// reply is the ingress program seeing a reply for slot: it times it
// against the slot's probe in flight (none: a duplicate, or a reply to a
// probe the prober forgot, which only counts as a reply from the target),
// queues an event, and wakes the reader unless the reply is within the
// wake gap of the link's previous one.
func (s *sim) reply(l *simLink, slot int) {
	if l.cut {
		return
	}
	l.lastReply = s.now
	sent := l.slotSent[slot]
	if sent.IsZero() {
		return
	}
	l.slotSent[slot] = time.Time{}
	prev := l.probeReply
	l.probeReply = s.now
	s.ring = append(s.ring, ringEvent{link: l, slot: slot, at: s.now, rtt: s.now.Sub(sent)})
	if l.gap == 0 || prev.IsZero() || s.now.Sub(prev) > l.gap {
		s.deliver(s.drainRing())
	}
}

// drainRing reads every event in the ring (Monitor.drain): each reply is
// dated when the kernel saw it.
func (s *sim) drainRing() []probe.Sample {
	var out []probe.Sample
	for _, r := range s.ring {
		if smp, ok := r.link.tr.Reply(r.slot, r.rtt, r.at); ok {
			out = append(out, s.stamp(r.link, smp))
		}
	}
	s.ring = s.ring[:0]
	return out
}

func (s *sim) stamp(l *simLink, smp probe.Sample) probe.Sample {
	smp.Bond, smp.Link = "bond0", l.name
	return smp
}

// deliver hands samples to the engine as Run does: it takes them all,
// then steps.
func (s *sim) deliver(samples []probe.Sample) {
	if len(samples) == 0 {
		return
	}
	for _, smp := range samples {
		if s.onSample != nil {
			s.onSample(smp)
		}
		s.e.take(smp)
	}
	s.step()
}

// interval is the link's probe interval now; roleInterval the one its
// role gives it (Monitor.Figures: a suspect link's burst rate aside).
func (s *sim) interval(l *simLink) time.Duration {
	if l.fast && l.suspect {
		return min(s.ivs[1], probe.BurstInterval)
	}
	return s.roleInterval(l)
}

func (s *sim) roleInterval(l *simLink) time.Duration {
	if l.fast {
		return s.ivs[1]
	}
	return s.ivs[0]
}

// SetSuspect: a fast link made suspect is probed at the burst rate, at
// once (prober.setSuspect pokes it).
func (s *sim) SetSuspect(link string, suspect bool) error {
	l := s.links[link]
	if suspect && !l.suspect && l.fast {
		l.gen++
		l.poked = true
		s.after(0, evTick, l, 0, l.gen)
	}
	l.suspect = suspect
	return nil
}

// Steer, Active and Announce: the bond.

func (s *sim) Steer(_ context.Context, _, link string) error {
	s.active = link
	if s.dup == link { // the bond stops copying as it switches there
		s.dupStop()
		s.dup = ""
	}
	return nil
}

func (s *sim) Active(context.Context, string) (string, error) { return s.active, nil }

func (s *sim) Announce(context.Context, string) error { return nil }

func (s *sim) Duplicating(context.Context, string) (string, error) { return s.dup, nil }

// Duplicate: the bond copies its frames to link ("" stops); the time it
// does is the replay's duplication cost (on a steady flow, the share of
// its bytes sent twice).
func (s *sim) Duplicate(_ context.Context, _, link string) error {
	s.dupStop()
	if link != "" {
		s.dupSince = s.now
	}
	s.dup = link
	return nil
}

func (s *sim) dupStop() {
	if s.dup != "" {
		s.dupTotal += s.now.Sub(s.dupSince)
	}
}

// duplicated is the time the bond has copied its frames so far.
func (s *sim) duplicated() time.Duration {
	d := s.dupTotal
	if s.dup != "" {
		d += s.now.Sub(s.dupSince)
	}
	return d
}

// Figures, SetActive, LastReply and FirstSentAfter: the probe monitor.

func (s *sim) Figures(link string) (probe.Figures, time.Duration, bool) {
	l, ok := s.links[link]
	if !ok {
		return probe.Figures{}, 0, false
	}
	return l.tr.Figures(), s.roleInterval(l), true
}

// SetActive changes a link's rate; a link made fast ticks at once
// (prober.setActive pokes it), a link made slow keeps its pending tick.
func (s *sim) SetActive(link string, fast bool) error {
	l := s.links[link]
	if fast && !l.fast {
		l.gen++
		l.poked = true
		s.after(0, evTick, l, 0, l.gen)
	}
	l.fast = fast
	return nil
}

// SetCarrying: the simulated links carry data all along (the replay asks
// about a busy primary), so none is ever probed at the idle interval.
func (s *sim) SetCarrying(string, bool) error { return nil }

func (s *sim) LastReply(link string) time.Time { return s.links[link].lastReply }

func (s *sim) FirstSentAfter(link string, t time.Time) time.Time {
	return s.links[link].tr.FirstSentAfter(t)
}
