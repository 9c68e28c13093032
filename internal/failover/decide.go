package failover

import (
	"time"

	"github.com/multilink/multilink/api"
)

// Reasons a bond's active link changes.
const (
	ReasonDown     = "down"         // the active link stopped answering
	ReasonRTT      = "degraded_rtt" // the active link got slow, a healthier one exists
	ReasonLoss     = "degraded_loss"
	ReasonFailback = "failback" // a higher-priority link is up again, after its hold-down
	ReasonManual   = "manual"   // pinned, or the pin released
	ReasonKernel   = "kernel"   // the kernel bond switched by itself
	ReasonStart    = "start"
)

// Reasons lists every reason, for metrics.
func Reasons() []string {
	return []string{ReasonDown, ReasonRTT, ReasonLoss, ReasonFailback, ReasonManual, ReasonKernel, ReasonStart}
}

// candidate is a link as the decision sees it.
type candidate struct {
	name  string
	state api.LinkState
	score time.Duration // lower is better: SRTT + 4*RTTVAR + loss x 1 s
	rtt   bool          // degraded by RTT (else by loss or hold-down)
}

// decide returns the link that should be active, and why it changes (""
// when it stays). links are in priority order; active is the current one
// ("" if none); pin, if set, wins.
//
//   - the highest-priority up link;
//   - else, if none is up, the best-scoring degraded link, the active one
//     kept unless another beats it by the stickiness margin, and only if
//     settled (the engine's dwell since the last switch): moving between
//     bad links gains little and costs a blackout each time, so it is not
//     done in a hurry;
//   - else (every link down or unknown) the active one stays.
func decide(links []candidate, active, pin string, stickiness float64, settled bool) (string, string) {
	if pin != "" {
		if pin != active {
			return pin, ReasonManual
		}
		return active, ""
	}
	cur := -1
	for i, c := range links {
		if c.name == active {
			cur = i
		}
	}
	for i, c := range links {
		if c.state != api.LinkUp {
			continue
		}
		if c.name == active {
			return active, ""
		}
		switch {
		case active == "":
			return c.name, ReasonStart // nothing active yet: not a failover
		case cur < 0 || links[cur].state == api.LinkDown || links[cur].state == api.LinkUnknown:
			return c.name, ReasonDown
		case links[cur].state == api.LinkDegraded:
			return c.name, degradedReason(links[cur])
		case i < cur:
			return c.name, ReasonFailback
		}
		return active, ""
	}
	if !settled && active != "" {
		return active, ""
	}
	best := -1
	for i, c := range links {
		if c.state == api.LinkDegraded && (best < 0 || c.score < links[best].score) {
			best = i
		}
	}
	if best < 0 || links[best].name == active {
		return active, ""
	}
	if cur >= 0 && links[cur].state == api.LinkDegraded &&
		float64(links[best].score) > (1-stickiness)*float64(links[cur].score) {
		return active, "" // not better by enough to move
	}
	if cur < 0 || links[cur].state == api.LinkDown || links[cur].state == api.LinkUnknown {
		return links[best].name, ReasonDown
	}
	return links[best].name, degradedReason(links[cur])
}

func degradedReason(c candidate) string {
	if c.rtt {
		return ReasonRTT
	}
	return ReasonLoss
}
