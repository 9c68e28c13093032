package apitls

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// t0 is the tests' clock: certificates keep whole seconds.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func load(t *testing.T, dir string, now time.Time) *Source {
	t.Helper()
	s, err := Load(context.Background(), Options{Dir: dir, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestLoadGenerates(t *testing.T) {
	dir := t.TempDir()
	s := load(t, dir, t0)

	keyPath := filepath.Join(dir, KeyFileName)
	fi, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", keyPath, perm)
	}
	key, why := parseKey(readFile(t, keyPath))
	if why != "" {
		t.Fatalf("%s: %s", keyPath, why)
	}
	if key.Curve != elliptic.P256() {
		t.Errorf("key on %s, want P-256", key.Curve.Params().Name)
	}
	if pin, _ := Pin(&key.PublicKey); s.Pin() != pin {
		t.Errorf("Source.Pin() = %s, want the key file's %s", s.Pin(), pin)
	}

	cert := s.Certificate()
	leaf := cert.Leaf
	block, _ := pem.Decode(readFile(t, filepath.Join(dir, CertFileName)))
	if block == nil || !bytes.Equal(block.Bytes, leaf.Raw) || !bytes.Equal(cert.Certificate[0], leaf.Raw) {
		t.Error("api.crt does not hold the certificate in use")
	}
	if PinOfCert(leaf) != s.Pin() {
		t.Errorf("certificate pin %s, want %s", PinOfCert(leaf), s.Pin())
	}
	if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
		t.Errorf("certificate is not self-signed: %v", err)
	}
	if leaf.Subject.CommonName != "multilink" {
		t.Errorf("CN %q, want multilink", leaf.Subject.CommonName)
	}
	if !leaf.NotBefore.Equal(t0.Add(-time.Hour)) || !leaf.NotAfter.Equal(t0.AddDate(2, 0, 0)) {
		t.Errorf("valid %s to %s, want from an hour before %s for 2 years", leaf.NotBefore, leaf.NotAfter, t0)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage %v, want digitalSignature only", leaf.KeyUsage)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("ExtKeyUsage %v, want serverAuth", leaf.ExtKeyUsage)
	}
	if leaf.IsCA || leaf.SerialNumber.Sign() <= 0 {
		t.Errorf("IsCA %v, serial %v; want a leaf with a positive serial", leaf.IsCA, leaf.SerialNumber)
	}
}

func TestLoadKeepsValidCert(t *testing.T) {
	dir := t.TempDir()
	first := load(t, dir, t0).Certificate()
	crt := readFile(t, filepath.Join(dir, CertFileName))
	second := load(t, dir, t0.AddDate(1, 0, 0)).Certificate()
	if !bytes.Equal(first.Leaf.Raw, second.Leaf.Raw) {
		t.Error("a valid certificate was reissued")
	}
	if !bytes.Equal(crt, readFile(t, filepath.Join(dir, CertFileName))) {
		t.Error("api.crt was rewritten")
	}
}

func TestReissueKeepsKey(t *testing.T) {
	other := load(t, t.TempDir(), t0)
	for _, tc := range []struct {
		name   string
		now    time.Time
		damage func(t *testing.T, crtPath string)
	}{
		{"deleted", t0, func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage", t0, func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte("garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"another key", t0, func(t *testing.T, p string) {
			der := other.Certificate().Leaf.Raw
			if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"expiring", t0.AddDate(2, 0, -29), func(*testing.T, string) {}},
		{"expired", t0.AddDate(5, 0, 0), func(*testing.T, string) {}},
		{"clock went back", t0.Add(-2 * time.Hour), func(*testing.T, string) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			keyPath, crtPath := filepath.Join(dir, KeyFileName), filepath.Join(dir, CertFileName)
			first := load(t, dir, t0)
			key := readFile(t, keyPath)
			tc.damage(t, crtPath)

			second := load(t, dir, tc.now)
			if second.Pin() != first.Pin() {
				t.Errorf("pin changed from %s to %s", first.Pin(), second.Pin())
			}
			if !bytes.Equal(key, readFile(t, keyPath)) {
				t.Error("api.key changed")
			}
			leaf := second.Certificate().Leaf
			if bytes.Equal(leaf.Raw, first.Certificate().Leaf.Raw) {
				t.Fatal("certificate not reissued")
			}
			if PinOfCert(leaf) != first.Pin() || !leaf.NotAfter.Equal(tc.now.AddDate(2, 0, 0)) {
				t.Errorf("new certificate has pin %s, expiry %s; want %s, %s", PinOfCert(leaf), leaf.NotAfter, first.Pin(), tc.now.AddDate(2, 0, 0))
			}
			block, _ := pem.Decode(readFile(t, crtPath))
			if block == nil || !bytes.Equal(block.Bytes, leaf.Raw) {
				t.Error("api.crt does not hold the new certificate")
			}
		})
	}
}

func TestMaybeRenew(t *testing.T) {
	dir := t.TempDir()
	s := load(t, dir, t0)
	first := s.Certificate()
	if err := s.MaybeRenew(t0.AddDate(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Certificate().Leaf.Raw, first.Leaf.Raw) {
		t.Fatal("renewed a certificate with a year to go")
	}
	later := t0.AddDate(2, 0, -10)
	if err := s.MaybeRenew(later); err != nil {
		t.Fatal(err)
	}
	leaf := s.Certificate().Leaf
	if bytes.Equal(leaf.Raw, first.Leaf.Raw) || !leaf.NotAfter.Equal(later.AddDate(2, 0, 0)) {
		t.Fatalf("not renewed 10 days before expiry: expires %s", leaf.NotAfter)
	}
	if PinOfCert(leaf) != s.Pin() {
		t.Errorf("renewed certificate has pin %s, want %s", PinOfCert(leaf), s.Pin())
	}
	if leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 {
		t.Error("renewed certificate has the same serial")
	}
	block, _ := pem.Decode(readFile(t, filepath.Join(dir, CertFileName)))
	if block == nil || !bytes.Equal(block.Bytes, leaf.Raw) {
		t.Error("api.crt does not hold the renewed certificate")
	}
}

func TestDamagedKey(t *testing.T) {
	pkcs8 := func(key any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	good := pkcs8(ecKey)
	for name, data := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("garbage\n"),
		"truncated": good[:len(good)/2],
		"bad DER":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("xx")}),
		"SEC1":      pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		"ed25519":   pkcs8(edKey),
		"trailing":  append(slices.Clone(good), "junk"...),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			keyPath := filepath.Join(dir, KeyFileName)
			if err := os.WriteFile(keyPath, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(context.Background(), Options{Dir: dir})
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, want := range []string{keyPath, "damaged", "remove it", "changes the API pin"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if got, _ := os.ReadFile(keyPath); !bytes.Equal(got, data) {
				t.Error("the damaged key was replaced")
			}
			if _, err := os.Stat(filepath.Join(dir, CertFileName)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("api.crt: %v, want none", err)
			}
		})
	}
}

func TestKeyMadePrivate(t *testing.T) {
	dir := t.TempDir()
	pin := load(t, dir, t0).Pin()
	keyPath := filepath.Join(dir, KeyFileName)
	if err := os.Chmod(keyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := load(t, dir, t0).Pin(); got != pin {
		t.Errorf("pin changed from %s to %s", pin, got)
	}
	fi, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode %04o, want 0600", perm)
	}
}

// operatorFiles writes a certificate (for a DNS name, as a CA would
// issue) and its key, mode 0400, to a new directory.
func operatorFiles(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "hub.example"},
		DNSNames:     []string{"hub.example"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key) // SEC1, as openssl ecparam writes
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "hub.crt"), filepath.Join(dir, "hub.key")
	for path, block := range map[string]*pem.Block{
		certFile: {Type: "CERTIFICATE", Bytes: der},
		keyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

func TestOperatorFiles(t *testing.T) {
	certFile, keyFile := operatorFiles(t)
	stat := func() []os.FileInfo {
		var fis []os.FileInfo
		for _, p := range []string{certFile, keyFile} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			fis = append(fis, fi)
		}
		return fis
	}
	before := stat()
	certPEM := readFile(t, certFile)

	stateDir := t.TempDir()
	s, err := Load(context.Background(), Options{Dir: stateDir, CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	leaf := s.Certificate().Leaf
	if !bytes.Equal(leaf.Raw, block.Bytes) {
		t.Error("the operator's certificate is not the one in use")
	}
	if s.Pin() != PinOfCert(leaf) {
		t.Errorf("pin %s, want the operator certificate's %s", s.Pin(), PinOfCert(leaf))
	}
	if err := s.MaybeRenew(time.Now().AddDate(10, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Certificate().Leaf.Raw, block.Bytes) {
		t.Error("the operator's certificate was reissued")
	}
	for i, fi := range stat() {
		if !fi.ModTime().Equal(before[i].ModTime()) || fi.Mode() != before[i].Mode() || fi.Size() != before[i].Size() {
			t.Errorf("%s was changed", fi.Name())
		}
	}
	if entries, _ := os.ReadDir(stateDir); len(entries) != 0 {
		t.Errorf("state dir holds %v, want nothing", entries)
	}
}

func TestOperatorFilesErrors(t *testing.T) {
	certFile, keyFile := operatorFiles(t)
	otherCert, _ := operatorFiles(t)
	missing := filepath.Join(t.TempDir(), "nope.key")
	for _, tc := range []struct {
		name, cert, key string
		want            []string
	}{
		{"cert only", certFile, "", []string{"--tls-cert and --tls-key", "both"}},
		{"key only", "", keyFile, []string{"--tls-cert and --tls-key", "both"}},
		{"missing key", certFile, missing, []string{"--tls-key", missing}},
		{"missing cert", missing, keyFile, []string{"--tls-cert", missing}},
		{"key is a cert", certFile, certFile, []string{certFile}},
		{"mismatch", otherCert, keyFile, []string{otherCert, keyFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(context.Background(), Options{Dir: t.TempDir(), CertFile: tc.cert, KeyFile: tc.key})
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestLoadNeedsDir(t *testing.T) {
	if _, err := Load(context.Background(), Options{}); err == nil {
		t.Error("Load without a dir or files succeeded")
	}
}
