package probe

import (
	"time"

	"github.com/multilink/multilink/internal/windowed"
)

// Sample is one probe's fate: a reply with its RTT, or a loss.
type Sample struct {
	Bond string    `json:"bond"`
	Link string    `json:"link"`
	At   time.Time `json:"at"`
	RTT  time.Duration
	Lost bool `json:"lost"`
	// Late: a reply to a probe already counted as lost (its RTT is real).
	Late bool `json:"late,omitempty"`
	// Resumed: not a probe's fate; data leaves the link again after it
	// was idle, and it is probed at the active rate from At.
	Resumed bool `json:"resumed,omitempty"`
	// Sent is when a lost probe left (a reply's is At - RTT).
	Sent time.Time `json:"sent,omitzero"`
}

// Figures are a link's derived measurements.
type Figures struct {
	RTTLast     time.Duration // the latest sample
	RTTSmoothed time.Duration // SRTT, RFC 6298 (gain 1/8)
	RTTVar      time.Duration // RTTVAR, RFC 6298 (gain 1/4)
	Jitter      time.Duration // RFC 3550 interarrival jitter of the RTTs (gain 1/16)
	HasRTT      bool
	Loss        float64 // lost / decided probes in the window
	Decided     int     // probes in the window whose fate is known
	// LossLong is the loss over the link's recent history (an
	// exponentially weighted mean over about longLossProbes probes): the
	// base rate that runs of lost probes are weighed against.
	LossLong float64
	// Timeout is how long a probe may go unanswered before it counts as
	// lost now (replyTimeout).
	Timeout time.Duration
}

// Loss window: the latest decided probes, at most lossWindowCount of
// them and none older than lossWindowAge. At the active link's 20 ms that
// is the last second; at a backup's 5 s, two probes: too few for the
// failover policy's minimum, so a standby link is never judged on loss,
// only on silence (see failover's dead time).
const (
	lossWindowCount = 50
	lossWindowAge   = 10 * time.Second
	minForget       = 500 * time.Millisecond
	longLossProbes  = 1000
)

// outcome is a decided probe.
type outcome struct {
	sent time.Time
	lost bool
}

// slot is one probe in flight (or the last one sent from that slot).
type slot struct {
	sent     time.Time
	pending  bool // no reply yet
	declared bool // counted as lost already; a reply now is late
	idx      int  // its outcome's index in window, when declared
}

// tracker is one link's probe bookkeeping. It is not safe for concurrent
// use; link guards it.
type tracker struct {
	slots    [Slots]slot
	fig      Figures
	window   []outcome        // oldest first
	dropped  int              // outcomes dropped from the window's front, for slot.idx
	maxRTT   windowed.Extreme // the largest RTT of the last maxRTTWindow (Max set)
	lastSent time.Time        // the latest probe
	replied  time.Time        // the latest reply (late ones included)
	burst    burst
}

// lossTimeout is how long a probe may go unanswered before it counts as
// lost (replyTimeout).
func (t *tracker) lossTimeout() time.Duration { return replyTimeout(t.fig, t.maxRTT.Value()) }

// forget is when an unanswered slot may be used again: a reply later than
// that is not waited for.
func (t *tracker) forget() time.Duration { return max(minForget, 2*t.lossTimeout()) }

// next returns the slot to send the next probe from: a free one, the
// longest idle first, or false when all are in flight (the link is slower
// than Slots probes per RTT; the prober waits).
func (t *tracker) next(now time.Time) (int, bool) {
	best := -1
	for i := range t.slots {
		s := &t.slots[i]
		if s.pending && now.Sub(s.sent) < t.forget() {
			continue
		}
		if best < 0 || s.sent.Before(t.slots[best].sent) {
			best = i
		}
	}
	return best, best >= 0
}

// tick is the bookkeeping of one prober tick at now, in the prober's
// order: the probes unanswered past the loss timeout count as lost (their
// samples returned), then the next probe takes a slot (ok false: every
// slot in flight, no probe this tick). The caller sends it, and calls
// failed if it cannot.
// tick is the bookkeeping of one prober tick at now, at probe interval
// iv: the probes unanswered past the loss timeout count as lost (their
// samples returned; a loss starts a burst, see burst), then, if a probe is
// due (iv since the last one, or the burst's interval while in a burst),
// the next probe takes a slot (ok false: none due, or every slot in
// flight). force sends one even if none is due (a poke: a role change). The caller sends it, and calls failed if it cannot. A tick may
// come before a probe is due: at a probe's reply deadline (wait).
func (t *tracker) tick(now time.Time, iv time.Duration, force bool) (lost []Sample, slot int, ok bool) {
	lost = t.expire(now)
	if len(lost) > 0 {
		t.burst.start(now, t.replied)
	}
	if !force && !t.due(now, iv) {
		return lost, 0, false
	}
	slot, ok = t.next(now)
	if ok {
		t.sent(slot, now)
		t.burst.sent(now)
	}
	return lost, slot, ok
}

// due says whether a probe is due at now: the first one, or one interval
// (the burst's, in a burst) after the last. A tick that comes a little
// early (a timer's granularity) still sends.
func (t *tracker) due(now time.Time, iv time.Duration) bool {
	if t.burst.on() {
		iv = min(iv, BurstInterval)
	}
	return t.lastSent.IsZero() || now.Sub(t.lastSent) >= iv-iv/8
}

// wait is how long after now the prober should tick again at interval iv:
// when the next probe is due, or before that when a probe in flight
// reaches its reply deadline (its loss is then known at once, not at the
// next probe, and a burst can start).
func (t *tracker) wait(now time.Time, iv time.Duration) time.Duration {
	if t.burst.on() {
		iv = min(iv, BurstInterval)
	}
	next := t.lastSent.Add(iv)
	if !next.After(now) {
		// Due but not sent (every slot in flight): at the next interval.
		next = now.Add(iv)
	}
	if t.fig.HasRTT {
		timeout := t.lossTimeout()
		for i := range t.slots {
			if s := &t.slots[i]; s.pending && !s.declared {
				if d := s.sent.Add(timeout + time.Microsecond); d.Before(next) {
					next = d
				}
			}
		}
	}
	return max(0, next.Sub(now))
}

// sent records a probe sent from slot i at now. A slot given up on counts
// as lost if it was not already.
func (t *tracker) sent(i int, now time.Time) {
	s := &t.slots[i]
	if s.pending && !s.declared && t.fig.HasRTT {
		t.decide(s.sent, true)
	}
	*s = slot{sent: now, pending: true}
	t.lastSent = now
}

// reply records the reply to slot i's probe, with the kernel's RTT, and
// returns the sample. ok is false for a slot not in flight.
func (t *tracker) reply(i int, rtt time.Duration, now time.Time) (Sample, bool) {
	s := &t.slots[i]
	if !s.pending {
		return Sample{}, false
	}
	s.pending = false
	late := s.declared
	if now.After(t.replied) {
		t.replied = now
	}
	t.burst.replied()
	if late {
		// It was counted as lost; it was only slow.
		if k := s.idx - t.dropped; k >= 0 && k < len(t.window) {
			t.window[k].lost = false
			t.recount()
		}
		t.fig.LossLong = max(0, t.fig.LossLong-1.0/longLossProbes)
	} else {
		t.afterOutage(s.sent)
		t.decide(s.sent, false)
	}
	t.observe(rtt)
	t.maxRTT.Max = true // the zero tracker is ready to use: the window keeps the highest
	t.maxRTT.Add(now, rtt, maxRTTWindow)
	t.fig.Timeout = t.lossTimeout()
	return Sample{At: now, RTT: rtt, Late: late}, true
}

// Outage: at least outageProbes probes lost in a row over outageSpan or
// more, then a reply (with the bursts after a loss, 200 ms of losses in a
// row are some 30 probes: random loss does not do that). The link was silent, not lossy: its silence is
// judged as such (the engine has it down), and the losses of that silence
// are dropped from the loss window when it answers again, or a link just
// back would look lossy for the window's age.
const (
	outageProbes = 3
	outageSpan   = 200 * time.Millisecond
)

// afterOutage empties the loss window when the probes before the one sent
// at sent were an outage.
func (t *tracker) afterOutage(sent time.Time) {
	n := 0
	for n < len(t.window) && t.window[len(t.window)-1-n].lost {
		n++
	}
	if n < outageProbes || sent.Sub(t.window[len(t.window)-n].sent) < outageSpan {
		return
	}
	t.dropped += len(t.window)
	t.window = t.window[:0]
	t.recount()
}

// failed records that slot i's probe could not be sent: a loss, returned
// as a sample (nil before the link's first reply, as for expired probes).
func (t *tracker) failed(i int, now time.Time) []Sample {
	s := &t.slots[i]
	if !s.pending || s.declared {
		return nil
	}
	s.pending = false
	if !t.fig.HasRTT {
		return nil
	}
	t.decide(s.sent, true)
	return []Sample{{At: now, Lost: true, Sent: s.sent}}
}

// expire counts the probes unanswered for longer than lossTimeout as lost
// and returns a sample for each.
func (t *tracker) expire(now time.Time) []Sample {
	var out []Sample
	timeout := t.lossTimeout()
	for i := range t.slots {
		s := &t.slots[i]
		if s.pending && !s.declared && now.Sub(s.sent) > timeout {
			if !t.fig.HasRTT {
				// Before the first reply the link is warming up (the
				// tunnel's handshake): its probes are not losses. A link
				// that never answers is dead by its silence, not its loss.
				s.pending = false
				continue
			}
			s.declared = true
			s.idx = t.dropped + len(t.window)
			t.decide(s.sent, true)
			out = append(out, Sample{At: now, Lost: true, Sent: s.sent})
		}
	}
	t.trim(now)
	return out
}

// decide appends a decided probe to the window.
func (t *tracker) decide(sent time.Time, lost bool) {
	x := 0.0
	if lost {
		x = 1
	}
	t.fig.LossLong += (x - t.fig.LossLong) / longLossProbes
	t.window = append(t.window, outcome{sent: sent, lost: lost})
	if n := len(t.window) - lossWindowCount; n > 0 {
		t.window = t.window[n:]
		t.dropped += n
	}
	t.recount()
}

// trim drops outcomes older than lossWindowAge.
func (t *tracker) trim(now time.Time) {
	n := 0
	for n < len(t.window) && now.Sub(t.window[n].sent) > lossWindowAge {
		n++
	}
	if n > 0 {
		t.window = t.window[n:]
		t.dropped += n
		t.recount()
	}
}

func (t *tracker) recount() {
	lost := 0
	for _, o := range t.window {
		if o.lost {
			lost++
		}
	}
	t.fig.Decided = len(t.window)
	t.fig.Loss = 0
	if len(t.window) > 0 {
		t.fig.Loss = float64(lost) / float64(len(t.window))
	}
}

// observe updates the RTT estimators with a sample (RFC 6298 section 2,
// RFC 3550 section 6.4.1).
func (t *tracker) observe(r time.Duration) {
	f := &t.fig
	if !f.HasRTT {
		f.RTTSmoothed, f.RTTVar, f.HasRTT = r, r/2, true
	} else {
		f.RTTVar = (3*f.RTTVar + absDur(f.RTTSmoothed-r)) / 4
		f.RTTSmoothed = (7*f.RTTSmoothed + r) / 8
		f.Jitter += (absDur(r-f.RTTLast) - f.Jitter) / 16
	}
	f.RTTLast = r
}

// firstSentAfter is when the first probe after t left (or failed to),
// zero if none has since. A probe after the link's last reply is one the
// link was asked and did not answer; a prober that sent nothing (a stalled
// daemon) asked nothing. Exact while t is younger than forget: until then
// no slot sent after t is reused.
func (t *tracker) firstSentAfter(at time.Time) time.Time {
	var first time.Time
	for _, s := range t.slots {
		if s.sent.After(at) && (first.IsZero() || s.sent.Before(first)) {
			first = s.sent
		}
	}
	return first
}

// inFlight is how many probes await a reply.
func (t *tracker) inFlight() int {
	n := 0
	for _, s := range t.slots {
		if s.pending && !s.declared {
			n++
		}
	}
	return n
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
