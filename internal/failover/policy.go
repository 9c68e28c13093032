package failover

import (
	"fmt"
	"math"
	"time"

	"github.com/multilink/multilink/internal/errkind"
)

// Policy is how a bond's links are judged and chosen. Every field has a
// default (DefaultPolicy); PUT /v1/client/policy/{bond} changes them live.
type Policy struct {
	// A link is down when its last DeadProbes probes or more were lost in
	// a row (more on a link that loses probes anyway: see the package's
	// doc), or when silence alone lasts its dead time, max(floor, 2*SRTT +
	// 4*RTTVAR), where floor is max(DeadFloor, DeadProbes x the link's
	// probe interval) (and 300 ms once it has an RTT).
	DeadProbes int
	DeadFloor  time.Duration
	// A link is degraded when its smoothed RTT exceeds
	// max(RTTFactor x baseline, baseline + RTTMargin), baseline being its
	// lowest RTT of the last BaselineWindow, or when the loss test (a
	// CUSUM between LossDegraded/4 and 3 x LossDegraded) finds its loss
	// above about LossDegraded (over at least MinLossSamples probes). It
	// is healthy again below max(RecoverRTTFactor x baseline, baseline +
	// RecoverRTTMargin) and LossRecovered over its last 50 probes
	// (hysteresis).
	RTTFactor        float64
	RTTMargin        time.Duration
	RecoverRTTFactor float64
	RecoverRTTMargin time.Duration
	LossDegraded     float64
	LossRecovered    float64
	MinLossSamples   int
	BaselineWindow   time.Duration
	// A link that was down or degraded counts as up again only after
	// HoldDown of good health (SRT's wary period). Each time a link that
	// was up goes down its flap penalty grows by one and halves every
	// FlapHalfLife; its hold-down is HoldDown x 2^(penalty-1), at most
	// MaxHoldDown.
	HoldDown     time.Duration
	MaxHoldDown  time.Duration
	FlapHalfLife time.Duration
	// Between degraded links the active one is kept unless another scores
	// better by this fraction (no ping-pong between two bad links).
	Stickiness float64
}

// DefaultPolicy suits WiFi and 5G uplinks with probes every 20 ms on the
// active link: a dead link is noticed in about 60 ms, a slow one within
// about half a second, and a recovered one is trusted after 2 s.
func DefaultPolicy() Policy {
	return Policy{
		DeadProbes:       3,
		DeadFloor:        15 * time.Millisecond,
		RTTFactor:        3,
		RTTMargin:        150 * time.Millisecond,
		RecoverRTTFactor: 2,
		RecoverRTTMargin: 100 * time.Millisecond,
		LossDegraded:     0.10,
		LossRecovered:    0.05,
		MinLossSamples:   10,
		BaselineWindow:   10 * time.Minute,
		HoldDown:         2 * time.Second,
		MaxHoldDown:      time.Minute,
		FlapHalfLife:     time.Minute,
		Stickiness:       0.2,
	}
}

// Check validates p; errors name the JSON field.
func (p Policy) Check() error {
	type rng struct {
		field    string
		v        float64
		min, max float64
	}
	for _, r := range []rng{
		{"dead_probes", float64(p.DeadProbes), 1, 100},
		{"dead_floor_ms", ms(p.DeadFloor), 1, 60000},
		{"rtt_factor", p.RTTFactor, 1, 100},
		{"rtt_margin_ms", ms(p.RTTMargin), 0, 60000},
		{"recover_rtt_factor", p.RecoverRTTFactor, 1, 100},
		{"recover_rtt_margin_ms", ms(p.RecoverRTTMargin), 0, 60000},
		{"loss_degraded", p.LossDegraded, 0.001, 1},
		{"loss_recovered", p.LossRecovered, 0, 1},
		{"min_loss_samples", float64(p.MinLossSamples), 1, 1000},
		{"baseline_window_ms", ms(p.BaselineWindow), 1000, 24 * 3600 * 1000},
		{"hold_down_ms", ms(p.HoldDown), 0, 3600 * 1000},
		{"max_hold_down_ms", ms(p.MaxHoldDown), 0, 24 * 3600 * 1000},
		{"flap_half_life_ms", ms(p.FlapHalfLife), 1000, 24 * 3600 * 1000},
		{"stickiness", p.Stickiness, 0, 10},
	} {
		if r.v < r.min || r.v > r.max {
			return errkind.Invalid(r.field, "%g is out of range %g..%g", r.v, r.min, r.max)
		}
	}
	switch {
	case p.RecoverRTTFactor > p.RTTFactor:
		return errkind.Invalid("recover_rtt_factor", "%g is above rtt_factor %g: a link would recover before it is degraded", p.RecoverRTTFactor, p.RTTFactor)
	case p.RecoverRTTMargin > p.RTTMargin:
		return errkind.Invalid("recover_rtt_margin_ms", "%s is above rtt_margin_ms %s", p.RecoverRTTMargin, p.RTTMargin)
	case p.LossRecovered > p.LossDegraded:
		return errkind.Invalid("loss_recovered", "%g is above loss_degraded %g", p.LossRecovered, p.LossDegraded)
	case p.MaxHoldDown < p.HoldDown:
		return errkind.Invalid("max_hold_down_ms", "%s is below hold_down_ms %s", p.MaxHoldDown, p.HoldDown)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// thresholds are the RTT limits for a baseline.
func (p Policy) degradeRTT(base time.Duration) time.Duration {
	return max(time.Duration(p.RTTFactor*float64(base)), base+p.RTTMargin)
}

func (p Policy) recoverRTT(base time.Duration) time.Duration {
	return max(time.Duration(p.RecoverRTTFactor*float64(base)), base+p.RecoverRTTMargin)
}

// holdDown is the hold-down for a flap penalty.
func (p Policy) holdDown(penalty float64) time.Duration {
	if penalty <= 1 {
		return p.HoldDown
	}
	d := float64(p.HoldDown) * math.Exp2(min(penalty-1, 40))
	return min(time.Duration(d), p.MaxHoldDown)
}

func (p Policy) String() string {
	return fmt.Sprintf("dead %dx interval (>= %s), degraded at max(%gx, +%s) RTT or %.0f%% loss, hold-down %s..%s",
		p.DeadProbes, p.DeadFloor, p.RTTFactor, p.RTTMargin, p.LossDegraded*100, p.HoldDown, p.MaxHoldDown)
}
