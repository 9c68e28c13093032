package api

// HealthReport is the body of GET /health.
type HealthReport struct {
	Status string        `json:"status"` // StatusOK, StatusDegraded or StatusDown
	Checks []HealthCheck `json:"checks"`
	// Warnings say where secrets cross the network in cleartext (plain
	// HTTP allowed, a client fetching its key over http://).
	Warnings []string `json:"warnings,omitempty"`
}

// HealthCheck is one thing /health looked at.
type HealthCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Health statuses.
const (
	StatusOK       = "ok"       // everything started runs (or nothing is started)
	StatusDegraded = "degraded" // it works, with less redundancy than asked for
	StatusDown     = "down"     // something started does not work
)
