package apitls

import (
	"crypto/tls"
	"errors"
	"fmt"
)

// PinMismatch is the error of a TLS handshake with a server whose key
// does not have the expected pin.
type PinMismatch struct {
	Want string // the configured pin
	Got  string // the pin of the key that answered
}

func (e *PinMismatch) Error() string {
	return fmt.Sprintf("the hub's API key has pin %s, want %s (server_api_pin): a different key answers at that address", e.Got, e.Want)
}

// PinnedClientConfig returns a client configuration (TLS 1.2 or later)
// that trusts exactly the server whose certificate's key has pin, and
// checks neither chain nor names. pin should have been checked with
// ParsePin; one that is not valid matches no server.
func PinnedClientConfig(pin string) *tls.Config {
	if p, err := ParsePin(pin); err == nil {
		pin = p
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// No CA: VerifyConnection checks the key instead, and the
		// handshake proves the server holds it.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("verifying API server: it sent no certificate")
			}
			if got := PinOfCert(cs.PeerCertificates[0]); got != pin {
				return &PinMismatch{Want: pin, Got: got}
			}
			return nil
		},
	}
}
