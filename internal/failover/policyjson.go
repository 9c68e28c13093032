package failover

import (
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

func viewOf(p Policy) api.Policy {
	return api.Policy{DeadProbes: p.DeadProbes, DeadFloorMs: ms(p.DeadFloor), RTTFactor: p.RTTFactor, RTTMarginMs: ms(p.RTTMargin),
		RecoverRTTFactor: p.RecoverRTTFactor, RecoverRTTMarginMs: ms(p.RecoverRTTMargin), LossDegraded: p.LossDegraded,
		LossRecovered: p.LossRecovered, MinLossSamples: p.MinLossSamples, BaselineWindowMs: ms(p.BaselineWindow),
		HoldDownMs: ms(p.HoldDown), MaxHoldDownMs: ms(p.MaxHoldDown), FlapHalfLifeMs: ms(p.FlapHalfLife), Stickiness: p.Stickiness}
}

// policyOf is the Policy an API view gives.
func policyOf(v api.Policy) Policy {
	d := func(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
	return Policy{v.DeadProbes, d(v.DeadFloorMs), v.RTTFactor, d(v.RTTMarginMs), v.RecoverRTTFactor, d(v.RecoverRTTMarginMs),
		v.LossDegraded, v.LossRecovered, v.MinLossSamples, d(v.BaselineWindowMs), d(v.HoldDownMs), d(v.MaxHoldDownMs),
		d(v.FlapHalfLifeMs), v.Stickiness}
}

// View is p for the API.
func (p Policy) View() api.Policy { return viewOf(p) }

// ParsePolicy decodes a policy object (any subset of the thresholds,
// api.Policy's fields) over base, and validates the result.
func ParsePolicy(data []byte, base Policy) (Policy, error) {
	v := viewOf(base)
	if err := api.DecodeStrict(data, &v); err != nil {
		return Policy{}, err
	}
	p := policyOf(v)
	if err := p.Check(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// Intervals are the probe intervals a request sets (zero: unchanged).
// Idle is the active link's while it carries no data; NoIdle asks for
// none (the active link probed at Active all the time).
type Intervals struct{ Active, Backup, Idle time.Duration }

// NoIdle in Intervals.Idle: idle_interval_ms 0, no idle interval.
const NoIdle time.Duration = -1

// ParseRequest decodes a policy request against the bond's current policy
// (for the thresholds it leaves out). Unknown fields are refused by name.
func ParseRequest(data []byte, cur Policy) (Update, Intervals, error) {
	var r api.PolicyRequest
	if err := api.DecodeStrict(data, &r); err != nil {
		return Update{}, Intervals{}, err
	}
	if r.Pin == nil && r.Priority == nil && r.Policy == nil && r.ProbeIntervalMs == nil && r.BackupIntervalMs == nil && r.IdleIntervalMs == nil && r.OnlyWhenNeeded == nil {
		return Update{}, Intervals{}, errkind.Invalid("", `nothing to change: give pin, priority, policy, probe_interval_ms, backup_interval_ms, idle_interval_ms or only_when_needed`)
	}
	u := Update{Pin: r.Pin, Priority: r.Priority, OnlyWhenNeeded: r.OnlyWhenNeeded}
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
	}{{"probe_interval_ms", r.ProbeIntervalMs, &iv.Active}, {"backup_interval_ms", r.BackupIntervalMs, &iv.Backup},
		{"idle_interval_ms", r.IdleIntervalMs, &iv.Idle}} {
		if f.v == nil {
			continue
		}
		if f.name == "idle_interval_ms" && *f.v == 0 {
			iv.Idle = NoIdle
			continue
		}
		if *f.v < 5 || *f.v > 60000 {
			if f.name == "idle_interval_ms" {
				return Update{}, Intervals{}, errkind.Invalid(f.name, "%g is out of range: 0 (none) or 5..60000", *f.v)
			}
			return Update{}, Intervals{}, errkind.Invalid(f.name, "%g is out of range 5..60000", *f.v)
		}
		*f.dst = time.Duration(*f.v * float64(time.Millisecond))
	}
	return u, iv, nil
}
