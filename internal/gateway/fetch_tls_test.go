package gateway

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/apilisten"
	"github.com/multilink/multilink/internal/apitls"
)

// tlsHub serves the key answer on 127.0.0.1 behind the API's listener
// (TLS, plain HTTP only if allowPlain or loopback counts: the client here
// is loopback, so plain refusals are tested in apilisten), with a
// self-signed certificate; it returns the base URL host:port and the pin.
func tlsHub(t *testing.T) (addr, pin string) {
	t.Helper()
	src, err := apitls.Load(t.Context(), apitls.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := apilisten.New(tcp, apilisten.Options{TLS: src.TLSConfig()})
	srv := &http.Server{Handler: hubHandler(t, http.StatusOK, hubKey(), new([]request))}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return tcp.Addr().String(), src.Pin()
}

// TestFetchKeyPinned: an https:// hub answering with the pinned key is
// used; one answering with another key is refused naming both pins.
func TestFetchKeyPinned(t *testing.T) {
	addr, pin := tlsHub(t)
	k, err := HTTPFetcher{}.FetchKey(context.Background(), HubAPI{URL: "https://" + addr, Pin: pin, Token: "t"})
	if err != nil || k.Bridge != "br0" {
		t.Fatalf("pinned fetch: %+v %v", k, err)
	}
	other, err := apitls.Load(t.Context(), apitls.Options{Dir: filepath.Join(t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	_, err = HTTPFetcher{}.FetchKey(context.Background(), HubAPI{URL: "https://" + addr, Pin: other.Pin(), Token: "t"})
	if err == nil || !strings.Contains(err.Error(), pin) || !strings.Contains(err.Error(), other.Pin()) {
		t.Fatalf("wrong pin: %v, want a refusal naming %s and %s", err, pin, other.Pin())
	}
}
