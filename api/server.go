package api

import (
	"encoding/json"
	"net/netip"
	"strconv"

	"github.com/multilink/multilink/internal/errkind"
)

// Server defaults and limits.
const (
	DefaultPortBase  = 1191 // tap1 listens on 1191, tapN on 1190+N, as the original
	DefaultTapPrefix = "tap"
	MaxLinks         = 16
)

// Server is the body of POST /v1/server/start: a hub bridge with one
// OpenVPN TAP tunnel per link.
type Server struct {
	// BridgeInterface is the bridge to create ("bride_interface" in the spec).
	BridgeInterface string `json:"bridge_interface"`
	// BridgeIP is the bridge's address; /24 unless a prefix is given.
	BridgeIP netip.Prefix `json:"bridge_ip"`
	// Links is how many tunnels (TAPs) to serve.
	Links int `json:"links"`
	// PortBase is the UDP port of the first link; link i uses PortBase+i-1.
	PortBase int `json:"port_base"`
	// TapPrefix names the TAPs: prefix1..prefixN.
	TapPrefix string `json:"tap_prefix"`
	// TunnelMode is how the links are keyed: TunnelTLS (a new start's
	// default) or TunnelStatic (the spec's pre-shared key, for gateways
	// that fetch it the spec's way). "" in a body is the default; a
	// started server has its mode set, and is saved with it.
	TunnelMode string `json:"tunnel_mode,omitempty"`
}

// Tunnel modes.
const (
	// TunnelTLS: each end its own certificate, pinned by the other's
	// fingerprint; forward secrecy; one gateway bond per bridge.
	TunnelTLS = "tls"
	// TunnelStatic: the spec's OpenVPN static key, one per bridge.
	TunnelStatic = "static"
)

// UnmarshalJSON decodes the spec's body, its "bride_interface" typo and
// string numbers included, then validates it.
func (s *Server) UnmarshalJSON(data []byte) error {
	var out Server
	var ip string
	fields := map[string]field{
		"bridge_interface": func(raw json.RawMessage) (err error) { out.BridgeInterface, err = decodeString(raw); return },
		"bridge_ip":        func(raw json.RawMessage) (err error) { ip, err = decodeString(raw); return },
		"links":            func(raw json.RawMessage) (err error) { out.Links, err = decodeInt(raw, 1, MaxLinks); return },
		"port_base":        func(raw json.RawMessage) (err error) { out.PortBase, err = decodeInt(raw, 1, 65535); return },
		"tap_prefix":       func(raw json.RawMessage) (err error) { out.TapPrefix, err = decodeString(raw); return },
		"tunnel_mode":      func(raw json.RawMessage) (err error) { out.TunnelMode, err = decodeString(raw); return },
	}
	aliases := map[string]string{"bride_interface": "bridge_interface"}
	if err := decodeObject(data, "", fields, aliases); err != nil {
		return err
	}
	if ip == "" {
		return errkind.Invalid("bridge_ip", "is required: the bridge's IPv4 address, e.g. 10.8.0.254")
	}
	p, err := parseIPv4("bridge_ip", ip, 24)
	if err != nil {
		return err
	}
	out.BridgeIP = p
	out.fill()
	if err := out.Check(); err != nil {
		return err
	}
	*s = out
	return nil
}

// MarshalJSON writes the canonical form.
func (s Server) MarshalJSON() ([]byte, error) {
	type plain Server
	return json.Marshal(struct {
		plain
		BridgeIP string `json:"bridge_ip"`
	}{plain(s), s.BridgeIP.String()})
}

func (s *Server) fill() {
	if s.PortBase == 0 {
		s.PortBase = DefaultPortBase
	}
	if s.TapPrefix == "" {
		s.TapPrefix = DefaultTapPrefix
	}
}

// Check validates a filled-in server.
func (s Server) Check() error {
	if s.BridgeInterface == "" {
		return errkind.Invalid("bridge_interface", "is required (the spec also spells it bride_interface)")
	}
	if err := CheckIfName("bridge_interface", s.BridgeInterface); err != nil {
		return err
	}
	if err := checkHostPrefix("bridge_ip", s.BridgeIP); err != nil {
		return err
	}
	if s.Links < 1 || s.Links > MaxLinks {
		return errkind.Invalid("links", "is required, 1..%d", MaxLinks)
	}
	if s.PortBase < 1 || s.PortBase > 65535 {
		return errkind.Invalid("port_base", "%d is out of range 1..65535", s.PortBase)
	}
	if s.PortBase+s.Links-1 > 65535 {
		return errkind.Invalid("port_base", "%d plus %d links runs past port 65535", s.PortBase, s.Links)
	}
	if s.TapPrefix == "" {
		return errkind.Invalid("tap_prefix", "is empty")
	}
	switch s.TunnelMode {
	case "", TunnelTLS, TunnelStatic:
	default:
		return errkind.Invalid("tunnel_mode", "%q is neither %q (the default: per-side certificates, forward secrecy) nor %q (the spec's static key)", s.TunnelMode, TunnelTLS, TunnelStatic)
	}
	for _, tap := range s.Taps() {
		if err := CheckIfName("tap_prefix", tap); err != nil {
			return err
		}
		if tap == s.BridgeInterface {
			return errkind.Invalid("tap_prefix", "TAP name %q is the bridge's name", tap)
		}
	}
	return nil
}

// Taps returns the TAP names, link 1 first.
func (s Server) Taps() []string { return tapNames(s.TapPrefix, s.Links) }

// Port returns the UDP port of link i (1-based).
func (s Server) Port(i int) int { return s.PortBase + i - 1 }

func tapNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i+1)
	}
	return out
}
