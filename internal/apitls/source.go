package apitls

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// File names in the state dir.
const (
	KeyFileName  = "api.key"
	CertFileName = "api.crt"
)

// Options say where the API's certificate and key come from.
type Options struct {
	// Dir is the state dir that holds api.key and api.crt. Unused when
	// CertFile and KeyFile are given.
	Dir string
	// CertFile and KeyFile are the operator's own PEM certificate and
	// key (--tls-cert, --tls-key). Both or neither; they are read once
	// and never written.
	CertFile, KeyFile string
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// Logger gets what happened to the key and certificate (discarded if
	// nil).
	Logger *slog.Logger
}

// Source holds the API's current certificate and the pin of its key. It
// is safe for concurrent use.
type Source struct {
	pin      string
	key      *ecdsa.PrivateKey // nil with the operator's files: never reissued
	certPath string
	log      *slog.Logger

	mu   sync.RWMutex
	cert *tls.Certificate // replaced, never changed
}

// Load returns the API's certificate source: the operator's files if
// given, else the state dir's key (generated once) with a self-signed
// certificate, issued anew when it is missing, damaged, for another key
// or within 30 days of expiry.
func Load(ctx context.Context, o Options) (*Source, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.CertFile != "" || o.KeyFile != "" {
		return loadOperator(ctx, o.CertFile, o.KeyFile, now(), log)
	}
	if o.Dir == "" {
		return nil, errors.New("loading API TLS certificate: no state dir, and no --tls-cert and --tls-key")
	}
	key, err := loadOrCreateKey(filepath.Join(o.Dir, KeyFileName), log)
	if err != nil {
		return nil, err
	}
	pin, err := Pin(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	s := &Source{pin: pin, key: key, certPath: filepath.Join(o.Dir, CertFileName), log: log}
	t := now()
	leaf, why := readCert(s.certPath, key, t)
	if why == "" {
		s.cert = &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	} else if s.cert, err = s.reissue(t, why); err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "API TLS certificate", "pin", pin, "file", s.certPath, "not_after", s.cert.Leaf.NotAfter)
	return s, nil
}

// loadOperator loads the operator's certificate and key.
func loadOperator(ctx context.Context, certFile, keyFile string, now time.Time, log *slog.Logger) (*Source, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("loading API TLS certificate: --tls-cert and --tls-key go together, give both or neither")
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("reading TLS certificate (--tls-cert): %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("reading TLS key (--tls-key): %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate %s with key %s: %w", certFile, keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parsing TLS certificate %s: %w", certFile, err)
		}
	}
	pin := PinOfCert(cert.Leaf)
	if now.Add(renewBefore).After(cert.Leaf.NotAfter) {
		log.WarnContext(ctx, "the API TLS certificate given by --tls-cert expires soon or has expired; replace it (clients pin its key, so keep the key to keep the pin)",
			"file", certFile, "not_after", cert.Leaf.NotAfter)
	}
	log.InfoContext(ctx, "API TLS certificate", "pin", pin, "file", certFile, "not_after", cert.Leaf.NotAfter)
	return &Source{pin: pin, cert: &cert, log: log}, nil
}

// reissue issues and writes a new certificate for s's key at now,
// logging why.
func (s *Source) reissue(now time.Time, why string) (*tls.Certificate, error) {
	cert, err := issue(s.certPath, s.key, now)
	if err != nil {
		return nil, err
	}
	s.log.Info("issued a new self-signed API TLS certificate with the same key (the pin is unchanged)",
		"file", s.certPath, "reason", why, "not_after", cert.Leaf.NotAfter, "pin", s.pin)
	return cert, nil
}

// MaybeRenew reissues the self-signed certificate, with the same key, if
// it is within 30 days of expiry at now; a daemon calls it now and then
// (daily is plenty). If writing fails, the current certificate stays in
// use. The operator's certificate is never reissued.
func (s *Source) MaybeRenew(now time.Time) error {
	if s.key == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	why := unusable(s.cert.Leaf, s.key, now)
	if why == "" {
		return nil
	}
	cert, err := s.reissue(now, why)
	if err != nil {
		return fmt.Errorf("renewing API certificate: %w", err)
	}
	s.cert = cert
	return nil
}

// Pin returns the pin of the API's key, the one clients must be given.
func (s *Source) Pin() string { return s.pin }

// Certificate returns the current certificate, with its Leaf.
func (s *Source) Certificate() tls.Certificate { return *s.current() }

func (s *Source) current() *tls.Certificate {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cert
}

// TLSConfig returns a server configuration (TLS 1.2 or later) that serves
// the current certificate, renewals included. Leave its Certificates
// empty: crypto/tls prefers them to GetCertificate when the client sends
// no server name, as clients dialling an IP address do.
func (s *Source) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.current(), nil
		},
	}
}
