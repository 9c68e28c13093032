package api

import (
	"encoding/json"
	"time"
)

// LinkState is a link's health.
type LinkState string

// The states. A link in its hold-down after an outage is LinkDegraded (reason
// "hold-down"): usable when nothing is up, never preferred.
const (
	LinkUnknown  LinkState = "unknown" // no verdict yet (just added)
	LinkUp       LinkState = "up"
	LinkDegraded LinkState = "degraded"
	LinkDown     LinkState = "down"
)

// FailoverLink is one link as the engine judges it.
type FailoverLink struct {
	Link     string    `json:"link"`
	Priority int       `json:"priority"` // 1 is preferred
	State    LinkState `json:"state"`
	Reason   string    `json:"reason"`
	Since    time.Time `json:"since"`
}

// FailoverStatus is a bond's failover state.
type FailoverStatus struct {
	Bond      string            `json:"bond"`
	Active    string            `json:"active_link"`
	Pin       string            `json:"pin,omitempty"`
	Priority  []string          `json:"priority"`
	Links     []FailoverLink    `json:"links"`
	Failovers map[string]uint64 `json:"failovers"`
	Policy    Policy            `json:"policy"`
	// OnlyWhenNeeded are the links never sent copies of the bond's frames
	// (metered links: used only when the engine moves traffic to them).
	OnlyWhenNeeded []string `json:"only_when_needed,omitempty"`
	// Duplicating is the link that gets a copy of every frame the bond
	// sends, while the active link is suspect (empty: none).
	Duplicating string `json:"duplicating,omitempty"`
}

// Policy is the failover engine's policy as the API shows and takes it (times in ms).
type Policy struct {
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

// PolicyRequest is the body of PUT /v1/client/policy/{bond}. Every field is
// optional; policy may give any subset of the thresholds.
type PolicyRequest struct {
	Pin              *string          `json:"pin"`
	Priority         *[]string        `json:"priority"`
	Policy           *json.RawMessage `json:"policy"`
	ProbeIntervalMs  *float64         `json:"probe_interval_ms"`
	BackupIntervalMs *float64         `json:"backup_interval_ms"`
	// IdleIntervalMs is the active link's probe interval while it sends
	// no data (after a second without any); 0: none, it is probed at
	// probe_interval_ms all the time.
	IdleIntervalMs *float64 `json:"idle_interval_ms"`
	// OnlyWhenNeeded lists the links that carry traffic only when the
	// engine moves it to them: they are never sent copies of the bond's
	// frames while the active link is suspect. [] clears it.
	OnlyWhenNeeded *[]string `json:"only_when_needed"`
}

// PolicyStatus is the body of GET and PUT /v1/client/policy/{bond}: the
// bond's failover state with the probe intervals (daemon-wide).
type PolicyStatus struct {
	FailoverStatus
	ProbeIntervalMs  float64 `json:"probe_interval_ms"`
	BackupIntervalMs float64 `json:"backup_interval_ms"`
	IdleIntervalMs   float64 `json:"idle_interval_ms"` // 0: none
}
