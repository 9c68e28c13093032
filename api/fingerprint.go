package api

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/multilink/multilink/internal/errkind"
)

// Fingerprint is the SHA-256 fingerprint of a DER certificate as OpenVPN
// prints and takes it: upper-case hex bytes joined by colons.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return colonHex(sum[:])
}

// ParseFingerprint accepts a SHA-256 fingerprint as 32 hex bytes, with
// or without colons, either case, and returns its canonical form. Its
// error is errkind.Invalid naming field.
func ParseFingerprint(field, s string) (string, error) {
	bad := errkind.Invalid(field, "%q is not a SHA-256 fingerprint (32 hex bytes, e.g. AB:CD:...)", s)
	if parts := strings.Split(s, ":"); len(parts) > 1 {
		if len(parts) != sha256.Size {
			return "", bad
		}
		for _, p := range parts {
			if len(p) != 2 {
				return "", bad
			}
		}
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil || len(raw) != sha256.Size {
		return "", bad
	}
	return colonHex(raw), nil
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = strings.ToUpper(hex.EncodeToString([]byte{c}))
	}
	return strings.Join(parts, ":")
}
