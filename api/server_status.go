package api

import "time"

// ServerStatus is one served bridge.
type ServerStatus struct {
	Bridge   string       `json:"bridge_interface"`
	BridgeIP string       `json:"bridge_ip"`
	Present  bool         `json:"present"` // the bridge exists in the kernel
	Links    []ServerLink `json:"links"`
	Started  time.Time    `json:"started_at,omitzero"`
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
	Key      string    `json:"key"` // the OpenVPN static key file's text
	Cipher   string    `json:"cipher"`
	Auth     string    `json:"auth"`
	Links    []KeyLink `json:"links"`
}

// KeyLink tells a gateway which port serves which link.
type KeyLink struct {
	Tap  string `json:"tap"`
	Port int    `json:"port"`
}
