package tunnel

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/multilink/multilink/api"
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

// Fingerprint is api.Fingerprint: a DER certificate's SHA-256
// fingerprint as OpenVPN takes it.
func Fingerprint(der []byte) string { return api.Fingerprint(der) }

// ParseFingerprint is api.ParseFingerprint for a field named
// "fingerprint".
func ParseFingerprint(s string) (string, error) { return api.ParseFingerprint("fingerprint", s) }

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

// LinkIdentity returns the identity link tap has of its own since a
// rotation, kept in <dir>/<tap>; ok is false if it has none (it presents
// the daemon's).
func LinkIdentity(dir, tap string) (id Identity, ok bool, err error) {
	sub := filepath.Join(dir, tap)
	if _, err := os.Stat(filepath.Join(sub, identityCert)); errors.Is(err, os.ErrNotExist) {
		return Identity{}, false, nil
	}
	id, err = LoadIdentity(sub)
	return id, err == nil, err
}

// Renewal is a link identity replaced by RenewLinkIdentity: Commit
// deletes the old one, Undo puts it back.
type Renewal struct {
	sub, old string
	hadOld   bool
}

// RenewLinkIdentity gives link tap a new identity of its own in
// <dir>/<tap>. The new one is made aside first (a failure leaves the old
// in place); the old is kept until r.Commit or r.Undo.
func RenewLinkIdentity(dir, tap string) (Identity, *Renewal, error) {
	sub := filepath.Join(dir, tap)
	r := &Renewal{sub: sub, old: sub + ".old", hadOld: true}
	next := sub + ".next"
	fail := func(err error) (Identity, *Renewal, error) {
		return Identity{}, nil, fmt.Errorf("renew the tunnel identity of %s: %w", tap, err)
	}
	for _, d := range []string{next, r.old} {
		if err := os.RemoveAll(d); err != nil {
			return fail(err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(err)
	}
	if _, err := LoadIdentity(next); err != nil {
		return fail(err)
	}
	if err := os.Rename(sub, r.old); errors.Is(err, os.ErrNotExist) {
		r.hadOld = false
	} else if err != nil {
		return fail(err)
	}
	if err := os.Rename(next, sub); err != nil {
		_ = r.Undo()
		return fail(err)
	}
	id, err := LoadIdentity(sub)
	if err != nil {
		_ = r.Undo()
		return fail(err)
	}
	return id, r, nil
}

// Commit deletes the identity the renewal replaced.
func (r *Renewal) Commit() error {
	if err := os.RemoveAll(r.old); err != nil {
		return fmt.Errorf("remove the replaced tunnel identity: %w", err)
	}
	return nil
}

// Undo puts back the identity the renewal replaced (none: the daemon's).
func (r *Renewal) Undo() error {
	if err := os.RemoveAll(r.sub); err != nil {
		return fmt.Errorf("put back the replaced tunnel identity: %w", err)
	}
	if r.hadOld {
		if err := os.Rename(r.old, r.sub); err != nil {
			return fmt.Errorf("put back the replaced tunnel identity: %w", err)
		}
	}
	return nil
}

// ForgetLinkIdentity removes what link tap kept of its own under dir
// (its stop: a new link of that name starts with the daemon's).
func ForgetLinkIdentity(dir, tap string) error {
	sub := filepath.Join(dir, tap)
	for _, d := range []string{sub, sub + ".next", sub + ".old"} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("remove the identity of %s: %w", tap, err)
		}
	}
	return nil
}
