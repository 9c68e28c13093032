package apitls

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/multilink/multilink/internal/errkind"
)

// pinPrefix starts every pin; it names the hash, as curl expects.
const pinPrefix = "sha256//"

// pinExample shows what a pin looks like, in error messages.
const pinExample = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

// Pin returns the pin of a public key: "sha256//" and the standard
// base64 of the SHA-256 of its DER SubjectPublicKeyInfo.
func Pin(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	return pinOfSPKI(der), nil
}

// PinOfCert returns the pin of the certificate's public key.
func PinOfCert(cert *x509.Certificate) string {
	return pinOfSPKI(cert.RawSubjectPublicKeyInfo)
}

func pinOfSPKI(der []byte) string {
	sum := sha256.Sum256(der)
	return pinPrefix + base64.StdEncoding.EncodeToString(sum[:])
}

// ParsePin checks that s is one pin and returns it in canonical form
// (surrounding spaces removed, base64 padded). The error, of kind
// errkind.KindInvalid, says what is wrong and what a pin looks like.
func ParsePin(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", invalidPin(s, "it is empty")
	case strings.Contains(s, ";"):
		return "", invalidPin(s, "it holds several pins (;), give exactly one")
	case !strings.HasPrefix(s, pinPrefix):
		return "", invalidPin(s, "it does not start with "+pinPrefix)
	}
	b64 := strings.TrimPrefix(s, pinPrefix)
	sum, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		// Accept the digest without its "=" padding.
		var rawErr error
		if sum, rawErr = base64.RawStdEncoding.DecodeString(b64); rawErr != nil {
			return "", invalidPin(s, "what follows "+pinPrefix+" is not standard base64")
		}
	}
	if len(sum) != sha256.Size {
		return "", invalidPin(s, fmt.Sprintf("its digest is %d bytes, a SHA-256 digest is %d", len(sum), sha256.Size))
	}
	return pinPrefix + base64.StdEncoding.EncodeToString(sum), nil
}

func invalidPin(s, why string) error {
	return errkind.Invalid("", "pin %q is not valid: %s; a pin is %s and the base64 of a SHA-256 digest (44 characters), like %s",
		s, why, pinPrefix, pinExample)
}
