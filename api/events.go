package api

import "time"

// Event kinds.
const (
	EventSwitch = "switch" // the bond's active link changed
	EventState  = "state"  // a link's state changed
)

// MaxEvents is how many events the daemon keeps, and the most one GET
// /v1/client/events lists.
const MaxEvents = 512

// Event is one switch or link state change: an item of GET
// /v1/client/events. The two durations are set on switches only.
// The evidence behind a link's verdict (Event.Signal).
const (
	SignalLossRun = "probe_loss_run" // its last probes lost in a row
	SignalSilence = "silence"        // no reply for its dead time, no probe counted lost
	SignalRTT     = "rtt"            // smoothed RTT above its threshold
	SignalLoss    = "loss"           // the loss test's alarm
)

type Event struct {
	At     time.Time `json:"at"`
	Bond   string    `json:"bond"`
	Kind   string    `json:"kind"` // EventSwitch or EventState
	From   string    `json:"from,omitempty"`
	To     string    `json:"to,omitempty"`
	Reason string    `json:"reason,omitempty"` // switch: why ("down", "degraded_rtt", ...)
	Link   string    `json:"link,omitempty"`   // state: the link
	State  LinkState `json:"state,omitempty"`  // state: its new state
	Detail string    `json:"detail,omitempty"` // why, in words
	// Signal is the evidence that fired: SignalLossRun, SignalSilence,
	// SignalRTT or SignalLoss (a switch away from a link, or a link's new
	// state); empty for the others (failback, manual, kernel, healthy).
	Signal string `json:"signal,omitempty"`
	// DetectionMs: from the first sign of trouble to the decision (a
	// silent link: its last reply; a lossy one: the first loss since its
	// loss test last stood at zero; a slow one: its first slow reply).
	DetectionMs *float64 `json:"detection_ms,omitempty"`
	SwitchMs    *float64 `json:"switch_ms,omitempty"` // how long steering the bond took
	// RedundancyMs: a switch to the link that had been getting copies of
	// the bond's frames since the active link became suspect; how long.
	RedundancyMs *float64 `json:"redundancy_ms,omitempty"`
}
