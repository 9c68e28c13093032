package api

import (
	"time"

	"github.com/multilink/multilink/internal/errkind"
)

// RotateRequest is the body of POST /v1/server/rotate/{bridge_interface}:
// the holder of a bridge renews the secrets of one of its links. In TLS
// mode it sends the new certificate its end of the link will present; the
// hub makes a new certificate for its own end, pins the gateway's new one
// and answers with its fingerprint. In static mode the hub makes a new key
// for the link and answers with it. Only that link's tunnel restarts.
type RotateRequest struct {
	GatewayID string `json:"gateway_id"`
	Bond      string `json:"bond"`
	// Link is the link's number on the bridge, 1 for its first.
	Link int `json:"link"`
	// Fingerprint is the gateway's new certificate of that link (TLS mode).
	Fingerprint string `json:"fingerprint,omitempty"`
}

// UnmarshalJSON decodes a rotation strictly and checks it.
func (r *RotateRequest) UnmarshalJSON(data []byte) error {
	type plain RotateRequest
	var p plain
	if err := DecodeStrict(data, &p); err != nil {
		return err
	}
	*r = RotateRequest(p)
	return r.Check()
}

// Check validates r.
func (r RotateRequest) Check() error {
	if r.Link < 1 || r.Link > MaxLinks {
		return errkind.Invalid("link", "must be 1 to %d, got %d", MaxLinks, r.Link)
	}
	if r.Fingerprint != "" {
		if _, err := ParseFingerprint("fingerprint", r.Fingerprint); err != nil {
			return err
		}
	}
	return checkHolder(r.GatewayID, r.Bond)
}

// Rotation is the answer of POST /v1/client/rotate/{bond}: the bond's
// links in the order they were renewed (standby links first, the active
// one last).
type Rotation struct {
	Bond       string        `json:"bond"`
	TunnelMode string        `json:"tunnel_mode"`
	Links      []RotatedLink `json:"links"`
}

// RotatedLink is one renewed link.
type RotatedLink struct {
	Tap string `json:"tap"`
	// Fingerprint is the gateway's new certificate of the link, and
	// PeerFingerprint the hub's (TLS mode).
	Fingerprint     string `json:"fingerprint,omitempty"`
	PeerFingerprint string `json:"peer_fingerprint,omitempty"`
	// SwitchedTo is the link traffic moved to before this one was
	// renewed ("": it was not the active link).
	SwitchedTo string `json:"switched_to,omitempty"`
	// TookMs is from the link's renewal to its tunnel being up again.
	TookMs float64 `json:"took_ms"`
	// At is when its renewal began.
	At time.Time `json:"at"`
}
