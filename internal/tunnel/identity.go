package tunnel

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/multilink/multilink/internal/atomicfile"
	"github.com/multilink/multilink/internal/errkind"
)

// Identity is this daemon's tunnel certificate in TLS mode: a
// self-signed ECDSA P-256 certificate whose SHA-256 fingerprint the peer
// pins (--peer-fingerprint). The certificate and key are one identity:
// replacing it replaces both (unlike the API's key, kept across renewals,
// because OpenVPN pins the certificate, not the key).
type Identity struct {
	CertFile    string // PEM certificate, 0644
	KeyFile     string // PEM private key (PKCS#8), 0600
	Fingerprint string // SHA-256 of the certificate, upper-case hex with colons
}

// File names of the identity in its directory.
const (
	identityCert = "tunnel.crt"
	identityKey  = "tunnel.key"
	// identityYears is long: the peer pins the certificate itself, so a
	// renewal is a rotation (a new fingerprint given to the peer), never
	// a silent expiry. OpenVPN does not refuse an expired pinned
	// certificate, but a long validity keeps other tools quiet.
	identityYears = 20
)

// LoadIdentity returns the identity in dir, made there (dir 0700) if
// there is no certificate yet. A damaged identity is an error naming the
// files, never replaced behind the operator's back: peers pin it.
func LoadIdentity(dir string) (Identity, error) {
	id := Identity{CertFile: filepath.Join(dir, identityCert), KeyFile: filepath.Join(dir, identityKey)}
	// No certificate: none was handed out (the key is written first), so
	// a key alone, from a start cut short, is replaced too.
	if _, err := os.Stat(id.CertFile); errors.Is(err, os.ErrNotExist) {
		if err := newIdentity(dir, id); err != nil {
			return Identity{}, err
		}
	}
	pair, err := tls.LoadX509KeyPair(id.CertFile, id.KeyFile)
	if err != nil {
		return Identity{}, fmt.Errorf("loading tunnel identity %s and %s (remove both to make a new one; peers must then learn its fingerprint): %w",
			id.CertFile, id.KeyFile, err)
	}
	id.Fingerprint = Fingerprint(pair.Certificate[0])
	return id, nil
}

// newIdentity writes a new key and self-signed certificate to id's files.
func newIdentity(dir string, id Identity) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating tunnel identity dir: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating tunnel key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "multilink tunnel"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(identityYears, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("creating tunnel certificate: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encoding tunnel key: %w", err)
	}
	// The key first: a certificate without its key is never left alone.
	if err := atomicfile.Write(id.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600); err != nil {
		return fmt.Errorf("writing tunnel key: %w", err)
	}
	if err := atomicfile.Write(id.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("writing tunnel certificate: %w", err)
	}
	return nil
}

// Fingerprint is the SHA-256 fingerprint of a DER certificate as OpenVPN
// prints and takes it: upper-case hex bytes joined by colons.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return colonHex(sum[:])
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = strings.ToUpper(hex.EncodeToString([]byte{c}))
	}
	return strings.Join(parts, ":")
}

// ParseFingerprint accepts a SHA-256 fingerprint as 32 hex bytes, with
// or without colons, either case, and returns its canonical form.
func ParseFingerprint(s string) (string, error) {
	bad := errkind.Invalid("fingerprint", "%q is not a SHA-256 fingerprint (32 hex bytes, e.g. AB:CD:...)", s)
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

// checkKeys checks that the files s names hold what its mode needs,
// before openvpn is started with them.
func checkKeys(s Spec) error {
	if s.mode() == ModeTLS {
		if _, err := tls.LoadX509KeyPair(s.CertFile, s.CertKeyFile); err != nil {
			return errkind.Invalid("cert_file", "%s with %s: %v", s.CertFile, s.CertKeyFile, err)
		}
		return nil
	}
	key, err := os.ReadFile(s.KeyFile)
	if err != nil {
		return errkind.Invalid("key_file", "%v", err)
	}
	if err := ParseKey(key); err != nil {
		return fmt.Errorf("key file %s: %w", s.KeyFile, err)
	}
	return nil
}
