package api

import "time"

// ServerStatusResponse is the body of GET /v1/server/status.
type ServerStatusResponse struct {
	Started bool           `json:"started"` // at least one bridge is served (pending ones do not count)
	Servers []ServerStatus `json:"servers"`
	// Warnings: see HealthReport.Warnings.
	Warnings []string `json:"warnings,omitempty"`
}

// ServerStatus is one served bridge.
type ServerStatus struct {
	Bridge   string `json:"bridge_interface"`
	BridgeIP string `json:"bridge_ip"`
	// TunnelMode is how the links are keyed (TunnelTLS, TunnelStatic).
	TunnelMode string       `json:"tunnel_mode,omitempty"`
	Present    bool         `json:"present"` // the bridge exists in the kernel
	Links      []ServerLink `json:"links"`
	Started    time.Time    `json:"started_at,omitzero"`
	// Holder is the gateway bond that holds the links (POST
	// /v1/server/claim); absent while nobody does.
	Holder *Holder `json:"holder,omitempty"`
	// Pending is set for a desired server that does not run: why. The
	// daemon retries it until it starts or is stopped.
	Pending string `json:"pending,omitempty"`
}

// ServerLink is one tunnel of a bridge.
type ServerLink struct {
	Tap      string `json:"tap"`
	Port     int    `json:"port"`
	Running  bool   `json:"running"`
	Restarts int    `json:"restarts"`
	Up       bool   `json:"up"`
}

// Key is what a gateway needs to connect: GET /v1/server/key.
type Key struct {
	Bridge   string    `json:"bridge_interface"`
	BridgeIP string    `json:"bridge_ip"`
	Key      string    `json:"key,omitempty"` // the OpenVPN static key file's text (static mode)
	Cipher   string    `json:"cipher"`
	Auth     string    `json:"auth"`
	Links    []KeyLink `json:"links"`
	// TunnelMode is the bridge's: TunnelStatic (Key set) or TunnelTLS
	// (Fingerprint set). Absent from a hub that predates modes: static.
	TunnelMode string `json:"tunnel_mode,omitempty"`
	// Fingerprint is the hub's tunnel certificate's, which the gateway's
	// links pin (TLS mode).
	Fingerprint string `json:"fingerprint,omitempty"`
	// Holder is who holds the bridge's links (set in a claim's answer).
	Holder *Holder `json:"holder,omitempty"`
}

// KeyLink tells a gateway which port serves which link. A link that has
// its own secret since a rotation says so: Fingerprint (TLS mode) is the
// hub's certificate of that link, Key (static mode) its key; absent, the
// link uses the Key's Fingerprint or Key.
type KeyLink struct {
	Tap         string `json:"tap"`
	Port        int    `json:"port"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Key         string `json:"key,omitempty"`
}
