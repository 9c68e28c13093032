package apitls

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve runs an HTTPS server with cfg on 127.0.0.1 and returns its
// address.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }),
		ErrorLog: log.New(io.Discard, "", 0), // refused handshakes are expected
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// get fetches / from addr, trusting pin.
func get(t *testing.T, addr, pin string) (string, error) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: PinnedClientConfig(pin)}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func TestPinnedClientConnects(t *testing.T) {
	s := load(t, t.TempDir(), time.Now())
	addr := serve(t, s.TLSConfig())
	if body, err := get(t, addr, s.Pin()); err != nil || body != "ok" {
		t.Fatalf("GET: %q, %v", body, err)
	}
	// A pin as an operator might paste it.
	if body, err := get(t, addr, " "+strings.TrimSuffix(s.Pin(), "=")+"\n"); err != nil || body != "ok" {
		t.Fatalf("GET with an unpadded pin: %q, %v", body, err)
	}
}

func TestWrongPinFails(t *testing.T) {
	s := load(t, t.TempDir(), time.Now())
	other := load(t, t.TempDir(), time.Now()).Pin()
	addr := serve(t, s.TLSConfig())
	for _, want := range []string{other, "sha256//garbage"} {
		_, err := get(t, addr, want)
		var pm *PinMismatch
		if !errors.As(err, &pm) {
			t.Fatalf("GET with pin %s: %v, want a *PinMismatch", want, err)
		}
		if pm.Want != want || pm.Got != s.Pin() {
			t.Errorf("PinMismatch{Want: %s, Got: %s}, want {%s, %s}", pm.Want, pm.Got, want, s.Pin())
		}
		for _, p := range []string{want, s.Pin(), "server_api_pin"} {
			if !strings.Contains(pm.Error(), p) {
				t.Errorf("%q does not name %s", pm.Error(), p)
			}
		}
	}
}

func TestServesRenewedCert(t *testing.T) {
	now := time.Now()
	s := load(t, t.TempDir(), now)
	addr := serve(t, s.TLSConfig())
	peer := func() []byte {
		conn, err := tls.Dial("tcp", addr, PinnedClientConfig(s.Pin()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Raw
	}
	if !bytes.Equal(peer(), s.Certificate().Leaf.Raw) {
		t.Fatal("server does not serve the source's certificate")
	}
	if err := s.MaybeRenew(now.AddDate(2, 0, -1)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(peer(), s.Certificate().Leaf.Raw) {
		t.Fatal("server does not serve the renewed certificate")
	}
}

func TestOperatorCertServed(t *testing.T) {
	certFile, keyFile := operatorFiles(t)
	s, err := Load(context.Background(), Options{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s.TLSConfig())
	if body, err := get(t, addr, s.Pin()); err != nil || body != "ok" {
		t.Fatalf("GET: %q, %v", body, err)
	}
}

func TestRefusesOldTLS(t *testing.T) {
	s := load(t, t.TempDir(), time.Now())
	addr := serve(t, s.TLSConfig())
	cfg := PinnedClientConfig(s.Pin())
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	conn, err := tls.Dial("tcp", addr, cfg)
	if err == nil {
		conn.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}
	if cfg := s.TLSConfig(); cfg.MinVersion != tls.VersionTLS12 || PinnedClientConfig(s.Pin()).MinVersion != tls.VersionTLS12 {
		t.Error("MinVersion is not TLS 1.2")
	}
}
