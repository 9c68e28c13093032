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

// Mode is how a tunnel is keyed.
type Mode string

// The modes. ModeStatic is the spec's: one pre-shared key, no forward
// secrecy. ModeTLS: each end has its own certificate and trusts only the
// peer's, by fingerprint; AEAD data channel keys from an ephemeral key
// exchange, renegotiated every Spec.Rekey.
const (
	ModeStatic Mode = "static"
	ModeTLS    Mode = "tls"
)

// The TLS mode's data channel ciphers (AEAD only) and its default
// renegotiation period (OpenVPN's, stated); MinRekey bounds it below.
const (
	DataCiphers  = "AES-256-GCM:CHACHA20-POLY1305"
	DefaultRekey = time.Hour
	// DefaultNice is the openvpn processes' niceness the daemon asks for
	// (Options.Nice): ahead of ordinary work on a busy gateway.
	DefaultNice = -10
	MinRekey    = 10 * time.Second
	// DefaultKeepalive is OpenVPN's usual ping on a link that carries
	// nothing else (Spec.Keepalive); MinKeepalive and MaxKeepalive bound it.
	DefaultKeepalive = 10 * time.Second
	MinKeepalive     = time.Second
	MaxKeepalive     = 5 * time.Minute
)

// Spec is one OpenVPN TAP tunnel.
type Spec struct {
	Tap     string     // TAP interface name, e.g. tap1 (already validated)
	Role    Role       //
	Port    int        // server: UDP port to listen on; client: the hub's port
	Remote  netip.Addr // client: the hub's underlay address
	Device  string     // client: hardware interface the UDP socket is bound to (bind-dev)
	Mark    uint32     // client: SO_MARK for the per-link policy routing rule; 0 none
	Mode    Mode       // "" is ModeStatic
	KeyFile string     // static: path of the static key file

	// TLS mode: this end's certificate and private key (PEM), and the
	// SHA-256 fingerprints of the certificates the peer may present (more
	// than one while a certificate is being replaced).
	CertFile         string
	CertKeyFile      string
	PeerFingerprints []string

	// User and Group, if set, are what openvpn drops to once it has read
	// its config and keys and opened the TAP and socket (it keeps
	// CAP_NET_ADMIN for SO_MARK on a restart). Set by the Manager from
	// Options.
	User, Group string
	// Rekey (TLS mode, server end) is how often the data channel gets new
	// keys from a new TLS exchange (forward secrecy); 0: DefaultRekey. The
	// client end never starts one. Set by the Manager from Options.
	Rekey time.Duration
	// Keepalive is the ping each end sends when it has sent nothing else
	// for that long, which keeps a NAT's mapping of the link's UDP flow
	// alive (it must be shorter than the shortest NAT timeout on the path);
	// a session silent for max(60 s, 4 pings) is restarted. 0:
	// DefaultKeepalive. Set by the Manager from Options.
	Keepalive time.Duration
}

// mode is s.Mode with the default applied.
func (s Spec) mode() Mode {
	if s.Mode == "" {
		return ModeStatic
	}
	return s.Mode
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
	// Connected is when the process last said a session with its peer
	// was initiated (zero: not yet).
	Connected time.Time `json:"connected,omitzero"`
}
