package api

import (
	"fmt"
	"strconv"
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
	// LinkFingerprints, by link (the bridge's first link first), are the
	// certificates of links that have their own since a rotation; an
	// empty or missing entry is Fingerprint.
	LinkFingerprints []string `json:"link_fingerprints,omitempty"`
}

// Holder is who holds a bridge's links.
type Holder struct {
	GatewayID   string `json:"gateway_id"`
	Bond        string `json:"bond"`
	Fingerprint string `json:"fingerprint,omitempty"` // its tunnel certificate's (TLS mode)
	// LinkFingerprints are the certificates of its links that have their
	// own since a rotation, by link; "" or missing: Fingerprint.
	LinkFingerprints []string  `json:"link_fingerprints,omitempty"`
	Since            time.Time `json:"since"`
}

// LinkFingerprint is the certificate h's link i (0-based) presents.
func (h Holder) LinkFingerprint(i int) string {
	if i < len(h.LinkFingerprints) && h.LinkFingerprints[i] != "" {
		return h.LinkFingerprints[i]
	}
	return h.Fingerprint
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
	if r.Fingerprint != "" {
		if _, err := ParseFingerprint("fingerprint", r.Fingerprint); err != nil {
			return err
		}
	}
	if len(r.LinkFingerprints) > MaxLinks {
		return errkind.Invalid("link_fingerprints", "%d entries: a bridge has at most %d links", len(r.LinkFingerprints), MaxLinks)
	}
	for i, f := range r.LinkFingerprints {
		if f == "" {
			continue
		}
		if r.Fingerprint == "" {
			return errkind.Invalid("link_fingerprints", "given without fingerprint")
		}
		if _, err := ParseFingerprint(Path("link_fingerprints", strconv.Itoa(i)), f); err != nil {
			return err
		}
	}
	return checkHolder(r.GatewayID, r.Bond)
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
