package apitls

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/multilink/multilink/internal/atomicfile"
)

// The self-signed certificate: valid from an hour back (clock skew) for
// two years, reissued in its last 30 days.
const (
	certBackdate = time.Hour
	certYears    = 2
	renewBefore  = 30 * 24 * time.Hour
	certMode     = 0o644 // a certificate is public
	certName     = "multilink"
)

// readCert reads the certificate in path; why says why it cannot be used
// with key at now ("" if it can).
func readCert(path string, key *ecdsa.PrivateKey, now time.Time) (cert *x509.Certificate, why string) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "there is none"
	}
	if err != nil {
		return nil, err.Error()
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, "the file holds no PEM certificate"
	}
	cert, err = x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err.Error()
	}
	if why := unusable(cert, key, now); why != "" {
		return nil, why
	}
	return cert, ""
}

// unusable says why cert should be reissued at now ("" if it should not).
func unusable(cert *x509.Certificate, key *ecdsa.PrivateKey, now time.Time) string {
	switch {
	case !key.PublicKey.Equal(cert.PublicKey):
		return "it is for another key"
	case now.Before(cert.NotBefore):
		return "it is not valid yet (the clock went back?)"
	case now.Add(renewBefore).After(cert.NotAfter):
		return fmt.Sprintf("it expires at %s", cert.NotAfter.Format(time.RFC3339))
	}
	return ""
}

// issue makes a self-signed server certificate for key at now and writes
// it to path (atomically).
func issue(path string, key *ecdsa.PrivateKey, now time.Time) (*tls.Certificate, error) {
	tmpl := &x509.Certificate{
		// A nil SerialNumber makes x509 pick a random one (RFC 5280).
		Subject:               pkix.Name{CommonName: certName},
		NotBefore:             now.Add(-certBackdate),
		NotAfter:              now.AddDate(certYears, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating API certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing the new API certificate: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := atomicfile.Write(path, data, certMode); err != nil {
		return nil, fmt.Errorf("writing API certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
