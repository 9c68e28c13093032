package api

import (
	"fmt"
	"time"

	"github.com/multilink/multilink/internal/errkind"
)

// ClaimRequest is the body of POST /v1/server/claim: a gateway's bond asks
// for a hub bridge's links for itself and gets what it needs to connect
// (the Key answer). A bridge's links serve one holder at a time: another
// holder's claim is 409 naming the bridge and the holder.
type ClaimRequest struct {
	// Bridge is the hub's bridge ("": its only one).
	Bridge string `json:"bridge_interface,omitempty"`
	// GatewayID names the gateway daemon (generated once into its state
	// dir; not a secret: the API token is). Bond is its bond that will use
	// the links. Together they are the holder.
	GatewayID string `json:"gateway_id"`
	Bond      string `json:"bond"`
	// Fingerprint is the SHA-256 fingerprint of the gateway's tunnel
	// certificate (AB:CD:..., 32 bytes): a TLS-mode bridge's links accept
	// only it. A multilink gateway always sends it.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Holder is who holds a bridge's links.
type Holder struct {
	GatewayID   string    `json:"gateway_id"`
	Bond        string    `json:"bond"`
	Fingerprint string    `json:"fingerprint,omitempty"` // its tunnel certificate's (TLS mode)
	Since       time.Time `json:"since"`
}

// String names the holder in messages.
func (h Holder) String() string { return fmt.Sprintf("gateway %s bond %s", h.GatewayID, h.Bond) }

// Same tells whether h and o are one holder.
func (h Holder) Same(o Holder) bool { return h.GatewayID == o.GatewayID && h.Bond == o.Bond }

// ReleaseRequest is the optional body of POST
// /v1/server/release/{bridge_interface}: the holder's own release names
// itself (refused if another holds the bridge); without a body the
// operator releases whoever holds it.
type ReleaseRequest struct {
	GatewayID string `json:"gateway_id"`
	Bond      string `json:"bond"`
}

// Released is the answer of a release.
type Released struct {
	Bridge   string  `json:"bridge_interface"`
	Released *Holder `json:"released"` // null: nobody held it
}

// MinGatewayIDLen and MaxGatewayIDLen bound a gateway id.
const (
	MinGatewayIDLen = 8
	MaxGatewayIDLen = 64
)

// UnmarshalJSON decodes a claim strictly and checks it.
func (r *ClaimRequest) UnmarshalJSON(data []byte) error {
	type plain ClaimRequest
	var p plain
	if err := DecodeStrict(data, &p); err != nil {
		return err
	}
	*r = ClaimRequest(p)
	return r.Check()
}

// Check validates r.
func (r ClaimRequest) Check() error {
	if r.Bridge != "" {
		if err := CheckIfName("bridge_interface", r.Bridge); err != nil {
			return err
		}
	}
	if r.Fingerprint != "" && !isFingerprint(r.Fingerprint) {
		return errkind.Invalid("fingerprint", "%q is not a SHA-256 fingerprint: 32 hex bytes joined by colons", r.Fingerprint)
	}
	return checkHolder(r.GatewayID, r.Bond)
}

// isFingerprint tells whether s is a SHA-256 certificate fingerprint as
// OpenVPN writes it: 32 hex bytes joined by colons.
func isFingerprint(s string) bool {
	if len(s) != 32*3-1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i%3 == 2 {
			if c != ':' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// UnmarshalJSON decodes a release strictly and checks it.
func (r *ReleaseRequest) UnmarshalJSON(data []byte) error {
	type plain ReleaseRequest
	var p plain
	if err := DecodeStrict(data, &p); err != nil {
		return err
	}
	*r = ReleaseRequest(p)
	return checkHolder(r.GatewayID, r.Bond)
}

// checkHolder validates a gateway id and bond name.
func checkHolder(id, bond string) error {
	if len(id) < MinGatewayIDLen || len(id) > MaxGatewayIDLen {
		return errkind.Invalid("gateway_id", "must be %d to %d characters, got %d", MinGatewayIDLen, MaxGatewayIDLen, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errkind.Invalid("gateway_id", "has a character other than letters, digits, '-', '_' and '.' at byte %d", i)
		}
	}
	return CheckIfName("bond", bond)
}
