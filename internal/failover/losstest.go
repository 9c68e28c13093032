package failover

import "math"

// lossTest tells a lossy link from one losing its usual few probes: a
// one-sided CUSUM (Page's test) of the log-likelihood ratio between a loss
// rate of Policy.LossDegraded/4 (a healthy radio link) and
// 3 x LossDegraded (a degraded one), fed with every probe's fate. Its
// drift is negative below about 1.2 x LossDegraded and positive above, so
// a sustained loss above the threshold raises it steadily while runs of
// random loss at a few percent fall back to zero; it alarms at lossAlarm.
// Over the 50-probe window's fixed ratio it needs fewer probes for a high
// loss (30 %: about 20, which the probe's bursts after each loss send
// within some 50 ms) and false-alarms far less often at a low one.
//
// The verdict reads the statistic as of the link's latest reply: losses
// with no reply after them are a silence, judged as such (runs of lost
// probes: down), not as a lossy link.
//
// A run of losses counts at most runLosses of them: a longer run with a
// reply after it is an outage or a stalled host (the run rule's business,
// and the tracker drops a long outage from its window too), and random
// loss, even at 30 %, seldom loses more in a row.
type lossTest struct {
	s, atReply float64
	run        int  // losses in a row
	raisedOn   bool // suspect: raised past a third of the alarm, not yet back under a sixth
}

const runLosses = 2

// lossAlarm is the test's threshold; the statistic is capped at twice that
// so that a link stops looking lossy soon after its loss ends.
const lossAlarm = 14.0

// lossLLR is a probe's log-likelihood ratio, lost or answered.
func lossLLR(lost bool, p Policy) float64 {
	p0 := p.LossDegraded / 4
	p1 := min(3*p.LossDegraded, 0.9)
	if lost {
		return math.Log(p1 / p0)
	}
	return math.Log((1 - p1) / (1 - p0))
}

// add takes a probe's fate.
func (t *lossTest) add(lost bool, p Policy) {
	if lost {
		if t.run++; t.run > runLosses {
			return
		}
	} else {
		t.run = 0
	}
	t.s = min(2*lossAlarm, max(0, t.s+lossLLR(lost, p)))
	if !lost {
		t.atReply = t.s
	}
	t.track()
}

func (t *lossTest) track() {
	switch {
	case t.s >= lossAlarm/3:
		t.raisedOn = true
	case t.s < lossAlarm/6:
		t.raisedOn = false
	}
}

// suspect says whether the link's loss looks high enough to be measured
// at the burst rate: from a third of the alarm (two losses close
// together) until back under a sixth.
func (t lossTest) suspect() bool { return t.raisedOn }

// undo takes back a loss that was a late reply (a reply too).
func (t *lossTest) undo(p Policy) {
	t.run = 0
	t.s = max(0, t.s-lossLLR(true, p)+lossLLR(false, p))
	t.atReply = t.s
	t.track()
}

// alarm says whether the link is lossy now.
func (t lossTest) alarm() bool { return t.atReply >= lossAlarm }

// raised says whether the evidence is still too high for a link to count
// as recovered (half the alarm: hysteresis).
func (t lossTest) raised() bool { return t.atReply >= lossAlarm/2 }
