package failover

import (
	"encoding/json"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// PolicyView is a Policy as the API shows and takes it (times in ms).
type PolicyView struct {
	DeadProbes         int     `json:"dead_probes"`
	DeadFloorMs        float64 `json:"dead_floor_ms"`
	RTTFactor          float64 `json:"rtt_factor"`
	RTTMarginMs        float64 `json:"rtt_margin_ms"`
	RecoverRTTFactor   float64 `json:"recover_rtt_factor"`
	RecoverRTTMarginMs float64 `json:"recover_rtt_margin_ms"`
	LossDegraded       float64 `json:"loss_degraded"`
	LossRecovered      float64 `json:"loss_recovered"`
	MinLossSamples     int     `json:"min_loss_samples"`
	BaselineWindowMs   float64 `json:"baseline_window_ms"`
	HoldDownMs         float64 `json:"hold_down_ms"`
	MaxHoldDownMs      float64 `json:"max_hold_down_ms"`
	FlapHalfLifeMs     float64 `json:"flap_half_life_ms"`
	Stickiness         float64 `json:"stickiness"`
}

func viewOf(p Policy) PolicyView {
	return PolicyView{p.DeadProbes, ms(p.DeadFloor), p.RTTFactor, ms(p.RTTMargin), p.RecoverRTTFactor, ms(p.RecoverRTTMargin),
		p.LossDegraded, p.LossRecovered, p.MinLossSamples, ms(p.BaselineWindow), ms(p.HoldDown), ms(p.MaxHoldDown),
		ms(p.FlapHalfLife), p.Stickiness}
}

func (v PolicyView) policy() Policy {
	d := func(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
	return Policy{v.DeadProbes, d(v.DeadFloorMs), v.RTTFactor, d(v.RTTMarginMs), v.RecoverRTTFactor, d(v.RecoverRTTMarginMs),
		v.LossDegraded, v.LossRecovered, v.MinLossSamples, d(v.BaselineWindowMs), d(v.HoldDownMs), d(v.MaxHoldDownMs),
		d(v.FlapHalfLifeMs), v.Stickiness}
}

// View is p for the API.
func (p Policy) View() PolicyView { return viewOf(p) }

// Request is the body of PUT /v1/client/policy/{bond}. Every field is
// optional; policy may give any subset of the thresholds.
type Request struct {
	Pin              *string          `json:"pin"`
	Priority         *[]string        `json:"priority"`
	Policy           *json.RawMessage `json:"policy"`
	ProbeIntervalMs  *float64         `json:"probe_interval_ms"`
	BackupIntervalMs *float64         `json:"backup_interval_ms"`
}

// ParsePolicy decodes a policy object (any subset of the thresholds,
// PolicyView's fields) over base, and validates the result.
func ParsePolicy(data []byte, base Policy) (Policy, error) {
	v := viewOf(base)
	if err := api.DecodeStrict(data, &v); err != nil {
		return Policy{}, err
	}
	p := v.policy()
	if err := p.Check(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// Intervals are the probe intervals a request sets (zero: unchanged).
type Intervals struct{ Active, Backup time.Duration }

// ParseRequest decodes a policy request against the bond's current policy
// (for the thresholds it leaves out). Unknown fields are refused by name.
func ParseRequest(data []byte, cur Policy) (Update, Intervals, error) {
	var r Request
	if err := api.DecodeStrict(data, &r); err != nil {
		return Update{}, Intervals{}, err
	}
	if r.Pin == nil && r.Priority == nil && r.Policy == nil && r.ProbeIntervalMs == nil && r.BackupIntervalMs == nil {
		return Update{}, Intervals{}, errkind.Invalid("", `nothing to change: give pin, priority, policy, probe_interval_ms or backup_interval_ms`)
	}
	u := Update{Pin: r.Pin, Priority: r.Priority}
	if r.Policy != nil {
		p, err := ParsePolicy(*r.Policy, cur)
		if err != nil {
			return Update{}, Intervals{}, api.Prefix("policy", err)
		}
		u.Policy = &p
	}
	var iv Intervals
	for _, f := range []struct {
		name string
		v    *float64
		dst  *time.Duration
	}{{"probe_interval_ms", r.ProbeIntervalMs, &iv.Active}, {"backup_interval_ms", r.BackupIntervalMs, &iv.Backup}} {
		if f.v == nil {
			continue
		}
		if *f.v < 5 || *f.v > 60000 {
			return Update{}, Intervals{}, errkind.Invalid(f.name, "%g is out of range 5..60000", *f.v)
		}
		*f.dst = time.Duration(*f.v * float64(time.Millisecond))
	}
	return u, iv, nil
}
