package probe

import "time"

// Tracker is one link's probe bookkeeping exactly as a prober keeps it:
// the slots in flight, the RTT estimators, the loss window and its loss
// timeout. It is for code that carries probes by other means and must
// judge them as the probe does: the failover package replays simulated
// links through it. Not safe for concurrent use.
type Tracker struct{ tr tracker }

// Tick does a prober tick's bookkeeping at now, at probe interval iv: the
// probes unanswered past the loss timeout count as lost (returned as
// samples, without bond and link), then, if a probe is due, it takes a
// slot, sent at now (ok false: none due, or every slot is in flight);
// force sends one even if none is due (the prober was poked).
func (t *Tracker) Tick(now time.Time, iv time.Duration, force bool) (lost []Sample, slot int, ok bool) {
	return t.tr.tick(now, iv, force)
}

// Wait is how long after now the prober ticks next at interval iv: when a
// probe is due (at the burst's interval in a burst), or a probe in flight
// reaches its reply deadline before that.
func (t *Tracker) Wait(now time.Time, iv time.Duration) time.Duration { return t.tr.wait(now, iv) }

// Reply takes the reply to slot's probe that arrived at at, with the RTT
// the kernel measured; ok is false when that slot awaits no reply.
func (t *Tracker) Reply(slot int, rtt time.Duration, at time.Time) (Sample, bool) {
	return t.tr.reply(slot, rtt, at)
}

// Figures are the link's figures now.
func (t *Tracker) Figures() Figures { return t.tr.fig }

// FirstSentAfter is when the first probe after at was sent, zero if none
// was (Monitor.FirstSentAfter).
func (t *Tracker) FirstSentAfter(at time.Time) time.Time { return t.tr.firstSentAfter(at) }

// WakeGap is the wake gap the prober gives the kernel at probe interval
// iv: a reply within it of the link's previous reply waits in the ring
// buffer for the prober's next tick instead of waking the reader (0: every
// reply wakes it).
func WakeGap(iv time.Duration) time.Duration { return wakeGap(iv) }
