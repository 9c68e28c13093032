package tunnel

import (
	"net/netip"
	"time"
)

// Role is which end of a tunnel this is.
type Role string

// The two ends.
const (
	Server Role = "server"
	Client Role = "client"
)

// Cipher and Auth are the data channel algorithms of static-key mode.
const (
	Cipher = "AES-256-CBC"
	Auth   = "SHA256"
)

// Spec is one OpenVPN TAP tunnel.
type Spec struct {
	Tap     string     // TAP interface name, e.g. tap1 (already validated)
	Role    Role       //
	Port    int        // server: UDP port to listen on; client: the hub's port
	Remote  netip.Addr // client: the hub's underlay address
	Device  string     // client: hardware interface the UDP socket is bound to (bind-dev)
	Mark    uint32     // client: SO_MARK for the per-link policy routing rule; 0 none
	KeyFile string     // path of the static key file
}

// Status is a supervised tunnel's state.
type Status struct {
	Tap      string    `json:"tap"`
	Role     Role      `json:"role"`
	Port     int       `json:"port"`
	Running  bool      `json:"running"`
	PID      int       `json:"pid,omitempty"`
	Restarts int       `json:"restarts"`
	LastExit string    `json:"last_exit,omitempty"`
	AdminUp  bool      `json:"admin_up"`
	Since    time.Time `json:"since"`
}
