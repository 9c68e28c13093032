package probe

import "time"

// A probe counts as lost once unanswered for its link's reply timeout:
// max(minReplyTimeout, SRTT + 4 RTTVAR, 5/4 of the largest RTT of the last
// maxRTTWindow but at most twice SRTT + 4 RTTVAR). That is the RTT's
// scale, not a fixed fraction of a second: a cut shows as losses a few
// milliseconds after the RTT, while a link whose replies wander (radio
// jitter) has its wanderings in the window's largest RTT and is not taken
// for lossy; the cap keeps one stall of a busy host (replies hundreds of
// milliseconds late) from slowing every loss for the window's length. A
// reply that comes after all is a late one, and the probe is not a loss
// after all.
// Before its first reply a link's probes wait warmUpTimeout: nothing is
// known of its RTT yet.
const (
	minReplyTimeout = 5 * time.Millisecond
	maxRTTWindow    = 10 * time.Second
	warmUpTimeout   = 200 * time.Millisecond
)

// replyTimeout is the reply timeout of a link with figures fig whose
// largest recent RTT is maxRTT.
func replyTimeout(fig Figures, maxRTT time.Duration) time.Duration {
	if !fig.HasRTT {
		return warmUpTimeout
	}
	est := fig.RTTSmoothed + 4*fig.RTTVar
	return max(minReplyTimeout, est, min(maxRTT+maxRTT/4, 2*est))
}

// A probe's loss starts a burst: the link is probed every BurstInterval
// until burstClear replies come in a row, or for burstProbes probes. A
// cut is then confirmed by several probes lost within a few milliseconds,
// rather than by probes a whole interval apart, and a loss rate is
// measured on many samples at once where it matters. A burst that runs
// its length is followed by none for burstCooldown, and a link silent for
// burstSilence gets none (it is down; bursts would find nothing): a
// lossy link costs at most burstProbes probes a second more.
const (
	BurstInterval = 2 * time.Millisecond
	burstProbes   = 24
	burstClear    = 4
	burstCooldown = time.Second
	burstSilence  = time.Second
)

// burst is a link's burst of fast probes.
type burst struct {
	left  int       // probes still to send fast; 0: no burst
	good  int       // replies in a row during the burst
	until time.Time // no new burst before
}

func (b *burst) on() bool { return b.left > 0 }

// start starts a burst at now after a loss (or prolongs one: its replies
// in a row count again), unless the link last answered at replied, more
// than burstSilence ago (or never), or the cool-down runs.
func (b *burst) start(now, replied time.Time) {
	switch {
	case b.on():
		b.good = 0
	case replied.IsZero(), now.Sub(replied) > burstSilence, now.Before(b.until):
	default:
		b.left, b.good = burstProbes, 0
	}
}

// sent counts a probe sent at now.
func (b *burst) sent(now time.Time) {
	if b.left == 0 {
		return
	}
	b.left--
	if b.left == 0 {
		b.until = now.Add(burstCooldown)
	}
}

// replied counts a reply: burstClear in a row end the burst.
func (b *burst) replied() {
	if !b.on() {
		return
	}
	b.good++
	if b.good >= burstClear {
		b.left = 0
	}
}
