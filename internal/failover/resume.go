package failover

import (
	"time"

	"github.com/multilink/multilink/api"
)

// resumedReason is a resumed standby's state until its first hold-down.
const resumedReason = "resumed: up after a hold-down of good health"

// resumeJudges starts the judges of a bond that was forwarding before
// this engine: the active link up, its silence counted from now (its
// tunnel and the bond kept running, so it answered until a moment ago),
// and every other link degraded until a full hold-down of good health,
// as if it had just recovered. A fresh engine would call the first link
// to answer up at once and fail back to it: a switch caused by nothing but
// the daemon's restart, maybe onto a link in flap damping (e.mu held).
func (e *Engine) resumeJudges(active string, now time.Time) {
	for l, j := range e.judges {
		if l == active {
			j.state, j.reason, j.since = api.LinkUp, "resumed: the bond was forwarding on it", now
			j.lastReply, j.clock = now, now
			continue
		}
		j.state, j.reason, j.since = api.LinkDegraded, resumedReason, now
		j.clock, j.resumed = now, true
	}
}
