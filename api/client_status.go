package api

import "time"

// ClientStatusResponse is the body of GET /v1/client/status.
type ClientStatusResponse struct {
	Started bool           `json:"started"` // at least one bond runs (pending ones do not count)
	Clients []ClientStatus `json:"clients"`
	// Warnings: see HealthReport.Warnings.
	Warnings []string `json:"warnings,omitempty"`
}

// ClientStatus is one gateway bond.
type ClientStatus struct {
	Bond         string       `json:"bond"`
	Address      string       `json:"ip_address"`
	ServerAPIURL string       `json:"server_api_url"`
	Driver       string       `json:"driver"`
	TunnelMode   string       `json:"tunnel_mode,omitempty"` // the hub bridge's (api.TunnelTLS, api.TunnelStatic); absent while pending
	Present      bool         `json:"present"`               // the bond exists in the kernel
	Active       string       `json:"active_slave"`
	Links        []ClientLink `json:"links"`
	Started      time.Time    `json:"started_at,omitzero"`
	// Pending is set for a desired client that does not run: why. The
	// daemon retries it until it starts or is stopped.
	Pending string `json:"pending,omitempty"`
}

// ClientLink is one tunnel of a bond.
type ClientLink struct {
	Tap      string `json:"tap"`
	HWInt    string `json:"hw_int"`
	IPServer string `json:"ip_server"`
	Port     int    `json:"port"`
	Running  bool   `json:"running"`
	Restarts int    `json:"restarts"`
	Up       bool   `json:"up"`
}
