package failover

import (
	"fmt"
	"math"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/probe"
	"github.com/multilink/multilink/internal/windowed"
)

// States lists every state, for metrics.
func States() []api.LinkState {
	return []api.LinkState{api.LinkUnknown, api.LinkUp, api.LinkDegraded, api.LinkDown}
}

// startupGrace is how long a link that has never answered may stay
// unknown before it counts as down: its tunnel may still be connecting.
const startupGrace = 10 * time.Second

// judge is one link's health verdict, fed with its probe samples.
type judge struct {
	state  api.LinkState
	reason string
	signal string    // the evidence behind the state (api.Signal...; empty: none)
	since  time.Time // the state's start

	added     time.Time
	lastReply time.Time
	clock     time.Time // the dead time runs from max(lastReply, clock): role changes restart it
	interval  time.Duration
	fig       probe.Figures
	base      windowed.Extreme                // the lowest RTT of the policy's BaselineWindow
	firstSent func(after time.Time) time.Time // the first probe sent after a time (zero: none)

	badSince time.Time // start of the current run of bad samples (detection latency)
	// lossSince is when the loss test last rose from zero: the change
	// point its alarm dates the loss from (detection latency of a lossy
	// link; zero while the test is at zero).
	lossSince time.Time
	goodSince time.Time // start of the current run of good health (hold-down); zero: not good
	penalty   float64   // flap penalty, as of penaltyAt
	penaltyAt time.Time
	// resumed: a standby of a bond an earlier daemon left forwarding; it
	// is up only after a hold-down of good health (see resumeJudges).
	resumed bool
	// revived: a reply came after a silence past the dead time (cleared by
	// the engine once it has told the hub, see Engine.step).
	revived bool

	// Probes lost in a row since the last reply (counted only for probes
	// sent after the latest answered one), and the loss test (lossTest).
	lossRun      int
	answeredSent time.Time
	loss         lossTest
}

// newJudge judges a link probed every interval; firstSent tells when its
// prober first sent a probe after a given time (zero if it has not).
func newJudge(now time.Time, interval time.Duration, firstSent func(after time.Time) time.Time) *judge {
	return &judge{state: api.LinkUnknown, since: now, added: now, clock: now, interval: interval, firstSent: firstSent}
}

// sample takes a probe sample with the link's figures after it.
func (j *judge) sample(s probe.Sample, fig probe.Figures, p Policy) {
	j.fig = fig
	if s.Lost {
		if j.badSince.IsZero() {
			j.badSince = s.At
		}
		if s.Sent.IsZero() || s.Sent.After(j.answeredSent) { // zero: not known
			j.lossRun++
		}
		j.loss.add(true, p)
		if j.lossSince.IsZero() && j.loss.s > 0 {
			j.lossSince = s.Sent // the first probe the loss met
			if j.lossSince.IsZero() {
				j.lossSince = s.At
			}
		}
		return
	}
	j.lossRun = 0
	if sent := s.At.Add(-s.RTT); sent.After(j.answeredSent) {
		j.answeredSent = sent
	}
	if s.Late {
		j.loss.undo(p)
	} else {
		j.loss.add(false, p)
	}
	if j.loss.s == 0 {
		j.lossSince = time.Time{}
	}
	if s.At.After(j.lastReply) {
		if !j.lastReply.IsZero() && s.At.Sub(j.lastReply) > j.deadTime(p) {
			j.revived = true
		}
		j.lastReply = s.At
	}
	j.base.Add(s.At, s.RTT, p.BaselineWindow)
	if s.RTT > p.degradeRTT(j.base.Value()) {
		if j.badSince.IsZero() {
			j.badSince = s.At.Add(-s.RTT) // the probe met the slowness when it left
		}
	} else if !j.degradedNow(p) {
		j.badSince = time.Time{}
	}
}

// setInterval notes a new probe interval (a role change). A faster one
// starts the dead time again, so a backup made active is not judged by its
// slow past; a slower one only lengthens it.
func (j *judge) setInterval(d time.Duration, now time.Time) {
	if d < j.interval {
		j.clock = now
	}
	j.interval = d
}

// deadTime is max(floor, 2*SRTT + 4*RTTVAR).
func (j *judge) deadTime(p Policy) time.Duration {
	floor := max(p.DeadFloor, time.Duration(p.DeadProbes)*j.interval)
	if !j.fig.HasRTT {
		return floor
	}
	return max(floor, 2*j.fig.RTTSmoothed+4*j.fig.RTTVar)
}

// deadFor is the dead time the verdict applies: stretched on a busy host.
func (j *judge) deadFor(p Policy, o others) time.Duration {
	if o.stretch > 1 {
		return time.Duration(float64(j.deadTime(p)) * o.stretch)
	}
	return j.deadTime(p)
}

// silence is how long the link has not answered, counted from the later of
// its last reply and its last role change.
func (j *judge) silence(now time.Time) time.Duration { return now.Sub(j.ref()) }

// ref is where silence counts from.
func (j *judge) ref() time.Time {
	if j.lastReply.After(j.clock) {
		return j.lastReply
	}
	return j.clock
}

// suspect says whether the link, up, has lost its latest probe or been
// silent for half its dead time: the engine then probes the other links at
// the active rate, so that a healthy one has answered by the time this
// one would be down.
func (j *judge) suspect(now time.Time, p Policy) bool {
	// From the last reply, not from a rate change: probing it fast must
	// not clear the suspicion it raised.
	return j.state == api.LinkUp && !j.lastReply.IsZero() && (j.lossRun > 0 || now.Sub(j.lastReply) > j.deadTime(p)/2)
}

// Runs of lost probes: a link is down once its last need probes in a row
// are lost, need being the run that a link losing its usual share of
// probes (Figures.LossLong, at least runFloorLoss) shows by chance once in
// 1/runFalse runs: p^need <= runFalse. At 0.3 % loss and less that is 3
// (Policy.DeadProbes, the least), at 2 % 5, at 6 % 6. A probe lost counts
// when its reply timeout passes (a few milliseconds past the RTT's
// spread) and a loss starts a burst of probes 2 ms apart (package probe),
// so on a cut the run is complete a few milliseconds after the RTT, while
// a jittery link's late replies are not losses and a lossy link needs the
// longer run its loss rate calls for.
const (
	runFalse     = 1e-7
	runFloorLoss = 0.003
	maxRun       = 16
)

// dupFalse: the bond copies its frames from the run of lost probes that
// the link's own loss shows by chance less than once in 1/dupFalse runs:
// the first loss on a clean link, the second on one that loses 1-10 %
// of its probes (each copy costs the flow's bytes until the next reply,
// and the budget is 1 % of them on a healthy link).
const dupFalse = 0.01

// dupRun is the run of lost probes from which the bond copies its frames.
func (j *judge) dupRun() int {
	q := max(j.fig.LossLong, runFloorLoss)
	return max(1, int(math.Ceil(math.Log(dupFalse)/math.Log(q))))
}

// need is how many probes in a row the link must lose to be down.
func (j *judge) need(p Policy) int {
	q := max(j.fig.LossLong, runFloorLoss)
	n := int(math.Ceil(math.Log(runFalse) / math.Log(q)))
	return min(max(n, p.DeadProbes), maxRun)
}

// minSilence is how long a link must have been silent before a run of
// lost probes makes it down: the dead time's floor, max(DeadFloor,
// DeadProbes x its probe interval), 60 ms at 20 ms probes, and at least
// one interval plus the link's reply timeout. Without any loss replies
// come up to an interval plus the RTT's spread apart, and the timeout
// covers the spread: a jittery link (RTT 0-60 ms, timeout ~75 ms) is
// silent 80 ms at times while healthy, a clean one some 20 ms.
func (j *judge) minSilence(p Policy) time.Duration {
	floor := max(p.DeadFloor, time.Duration(p.DeadProbes)*j.interval)
	if !j.fig.HasRTT {
		return floor
	}
	return max(floor, j.interval+j.fig.Timeout)
}

// silenceBackstop: silence alone (no probe counted lost, as when none
// could be sent) makes a link down only past max(dead time, this). Jitter
// alone leaves gaps between replies past the dead time (an interval plus
// the RTT's spread), and the probes' losses are the evidence that counts.
// A link the probe has no RTT for yet (a resumed bond's active link before
// its first reply) has no losses counted, and its dead time applies.
const silenceBackstop = 300 * time.Millisecond

// silenceDead is how long silence alone takes to make the link down.
func (j *judge) silenceDead(dead time.Duration) time.Duration {
	if !j.fig.HasRTT {
		return dead
	}
	return max(dead, silenceBackstop)
}

// asked is when the first probe the link left unanswered was sent: the
// first after ref (zero if none yet).
func (j *judge) asked() time.Time { return j.firstSent(j.ref()) }

// askedEnough is how long the link must have been asked in vain, on top
// of its silence, to be dead: the dead time less one probe interval (the
// first probe after a reply leaves up to an interval later). Silence alone
// is not enough: a daemon that did not send (a stalled CPU, a long GC)
// heard nothing because it asked nothing.
func (j *judge) askedEnough(dead time.Duration) time.Duration {
	return max(0, dead-j.interval)
}

func (j *judge) degradedNow(p Policy) bool {
	return j.rttBad(p) || j.lossBad(p)
}

func (j *judge) rttBad(p Policy) bool {
	return j.fig.HasRTT && j.fig.RTTSmoothed > p.degradeRTT(j.base.Value())
}

func (j *judge) lossBad(p Policy) bool {
	return j.fig.Decided >= p.MinLossSamples && j.loss.alarm()
}

func (j *judge) goodNow(p Policy) bool {
	rttOK := !j.fig.HasRTT || j.fig.RTTSmoothed <= p.recoverRTT(j.base.Value())
	lossOK := j.fig.Decided < p.MinLossSamples || j.fig.Loss <= p.LossRecovered && !j.loss.raised()
	return rttOK && lossOK
}

// decayedPenalty is the flap penalty at now (it halves every FlapHalfLife).
func (j *judge) decayedPenalty(now time.Time, p Policy) float64 {
	if j.penalty == 0 {
		return 0
	}
	return j.penalty * math.Exp2(-now.Sub(j.penaltyAt).Seconds()/p.FlapHalfLife.Seconds())
}

// holdLeft is what remains of the hold-down (0 when over or not running).
func (j *judge) holdLeft(now time.Time, p Policy) time.Duration {
	if j.goodSince.IsZero() {
		return p.holdDown(j.decayedPenalty(now, p))
	}
	return max(0, j.goodSince.Add(p.holdDown(j.decayedPenalty(now, p))).Sub(now))
}

// hostStall bounds how long a silent link is spared because every other
// link is silent too (see verdict): past max(hostStall, 2 x its dead time)
// it is down whatever the others do.
const hostStall = time.Second

// stallLimit is hostStall for a link with this dead time.
func stallLimit(dead time.Duration) time.Duration { return max(hostStall, 2*dead) }

// others is what a link's verdict knows of the bond's other links, and
// of the host.
type others struct {
	any   bool      // the bond has other links
	heard time.Time // the latest reply any of them had
	// stretch multiplies dead times while the host's CPUs are contended
	// (stretchFor); 0 or 1: not.
	stretch float64
}

// evaluate updates the verdict at now and reports whether it changed.
func (j *judge) evaluate(now time.Time, p Policy, o others) bool {
	next, reason, signal := j.verdict(now, p, o)
	if next == api.LinkDown && j.state == api.LinkUp {
		// Flap damping counts the failures of a link that was trusted
		// again; the blips of one bad period (a lossy link going between
		// degraded and down) are one failure, not many.
		j.penalty = j.decayedPenalty(now, p) + 1
		j.penaltyAt = now
	}
	changed := next != j.state
	if changed {
		j.state, j.since = next, now
	}
	j.reason, j.signal = reason, signal
	return changed
}

// verdict is the state the link is in at now, and why. A link silent
// past its dead time is down, unless every other link has been silent
// as long: then the host is stalled (busy CPUs starving the tunnels'
// processes delay every reply at once), not this link, and it is judged
// again when another link answers, or down once silent for stallLimit.
// The engine probes the other links at once when the active link has
// been silent for half its dead time (suspect), so on a real cut a
// healthy standby has answered by then and the cut costs no time. On a
// busy host (CPU pressure) the dead time is stretched (stretchFor).
func (j *judge) verdict(now time.Time, p Policy, o others) (api.LinkState, string, string) {
	dead := j.deadFor(p, o)
	if j.state == api.LinkDown && !j.lastReply.After(j.since) {
		// Only a reply brings a down link back, not a longer dead time.
		return api.LinkDown, j.reason, j.signal
	}
	if j.lastReply.IsZero() {
		if s := now.Sub(j.added); s > max(dead, startupGrace) {
			return api.LinkDown, fmt.Sprintf("no reply since the link was added %s ago", round(s)), api.SignalSilence
		}
		if j.resumed {
			return api.LinkDegraded, resumedReason, ""
		}
		return api.LinkUnknown, "no reply yet", ""
	}
	if n := j.need(p); j.lossRun >= n {
		s := now.Sub(j.lastReply)
		switch {
		case o.any && !o.heard.After(j.lastReply) && s <= stallLimit(dead):
			return j.state, fmt.Sprintf("%d probes lost in a row, no reply for %s, nor from any other link since: a host stall, not this link, until another link answers or %s pass", j.lossRun, round(s), round(stallLimit(dead))), j.signal
		case o.stretch > 1 && s <= dead:
			// A busy host: replies that cross user-space tunnels come
			// late; the dead time, stretched, must pass too (below).
		case s <= j.minSilence(p):
			// Not yet silent for the dead time's floor: a tunnel's
			// pause (an OpenVPN renegotiation holds its data channel
			// for some tens of ms) loses a run of probes as a cut does.
			// The bond copies its frames meanwhile (dupTarget), so the
			// wait costs little.
		default:
			j.goodSince = time.Time{}
			req := j.minSilence(p)
			if o.stretch > 1 {
				req = max(req, dead)
			}
			return api.LinkDown, fmt.Sprintf("%d probes lost in a row (no reply for %s, dead time %s; reply timeout %s, rtt %s ± %s)", j.lossRun, round(s), round(req), round(j.fig.Timeout), round(j.fig.RTTSmoothed), round(j.fig.RTTVar)), api.SignalLossRun
		}
	}
	if s := now.Sub(j.lastReply); j.lossRun > 0 && o.stretch > 1 && s > dead &&
		(!o.any || o.heard.After(j.lastReply) || s > stallLimit(dead)) {
		// A busy host: its replies come late, so its probes' timeouts pass
		// late too, and a run may take long to complete; a link asked in
		// vain (a probe counted lost) and silent for its stretched dead
		// time is down, as before the runs.
		j.goodSince = time.Time{}
		return api.LinkDown, fmt.Sprintf("no reply for %s on a busy host (dead time %s, %d probes lost)", round(s), round(dead), j.lossRun), api.SignalLossRun
	}
	if s := j.silence(now); s > j.silenceDead(dead) {
		if a := j.asked(); !a.IsZero() && now.Sub(a) > j.askedEnough(dead) {
			if o.any && !o.heard.After(j.ref()) && s <= stallLimit(dead) {
				return j.state, fmt.Sprintf("no reply for %s, nor from any other link since: a host stall, not this link, until another link answers or %s pass", round(s), round(stallLimit(dead))), j.signal
			}
			j.goodSince = time.Time{}
			return api.LinkDown, fmt.Sprintf("no reply for %s (dead time %s)", round(s), round(dead)), api.SignalSilence
		}
	}
	bad := j.degradedNow(p)
	good := !bad && j.goodNow(p)
	switch {
	case good && j.goodSince.IsZero():
		j.goodSince = now
	case !good:
		j.goodSince = time.Time{}
	}
	if bad {
		return api.LinkDegraded, j.badReason(p), j.badSignal(p)
	}
	switch {
	case j.state == api.LinkUp, j.state == api.LinkUnknown && !j.resumed:
		// A new link, or an up one not yet past the demote thresholds.
		return api.LinkUp, "healthy", ""
	}
	// Down or Degraded: up again only after the hold-down of good health.
	if !good {
		return api.LinkDegraded, "recovering: not yet below the recovery thresholds", j.signal
	}
	if left := j.holdLeft(now, p); left > 0 {
		return api.LinkDegraded, fmt.Sprintf("hold-down: %s left", round(left)), j.signal
	}
	j.resumed = false
	return api.LinkUp, "healthy", ""
}

// detectedSince is when the evidence behind a degraded verdict began:
// the loss test's change point for a lossy link, else the start of the
// run of bad samples (zero if not known).
func (j *judge) detectedSince() time.Time {
	if j.signal == api.SignalLoss && !j.lossSince.IsZero() {
		return j.lossSince
	}
	return j.badSince
}

// badSignal is the evidence behind badReason.
func (j *judge) badSignal(p Policy) string {
	if j.rttBad(p) {
		return api.SignalRTT
	}
	return api.SignalLoss
}

func (j *judge) badReason(p Policy) string {
	if j.rttBad(p) {
		return fmt.Sprintf("rtt %s above %s (baseline %s)", round(j.fig.RTTSmoothed), round(p.degradeRTT(j.base.Value())), round(j.base.Value()))
	}
	return fmt.Sprintf("loss %.0f%% above %.0f%%", j.fig.Loss*100, p.LossDegraded*100)
}

// nextDeadline is when the verdict may change with no new sample; the
// zero time when only a sample can change it (a link that is down).
func (j *judge) nextDeadline(now time.Time, p Policy, o others) time.Time {
	if j.state == api.LinkDown {
		return time.Time{}
	}
	var next time.Time
	switch {
	case j.lastReply.IsZero():
		next = j.added.Add(max(j.deadTime(p), startupGrace) + time.Millisecond)
	default:
		dead, ref := j.deadFor(p, o), j.ref()
		switch {
		case now.Before(ref.Add(dead / 2)):
			next = ref.Add(dead/2 + time.Millisecond) // suspect from then
		case now.Before(ref.Add(dead)):
			next = ref.Add(dead + time.Millisecond)
		case now.Before(ref.Add(j.silenceDead(dead))):
			next = ref.Add(j.silenceDead(dead) + time.Millisecond)
		default:
			// Silent long enough but not asked long enough: when it has
			// been, or, if nothing was sent yet, one interval on; asked
			// enough but spared as a host stall: at the stall limit.
			next = now.Add(j.interval)
			if a := j.asked(); !a.IsZero() {
				next = a.Add(j.askedEnough(dead) + time.Millisecond)
			}
			if !next.After(now) {
				next = ref.Add(stallLimit(dead) + time.Millisecond)
			}
		}
	}
	if j.lossRun >= j.need(p) && !j.lastReply.IsZero() {
		if m := j.lastReply.Add(j.minSilence(p) + time.Millisecond); m.After(now) && m.Before(next) {
			next = m // a complete run waits for the floor of silence
		}
	}
	if j.state != api.LinkUp && !j.goodSince.IsZero() {
		if h := now.Add(j.holdLeft(now, p) + time.Millisecond); h.Before(next) {
			next = h
		}
	}
	if !next.After(now) {
		return time.Time{} // due already: the next evaluation sees it
	}
	return next
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
