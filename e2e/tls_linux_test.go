package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/nstest"

	"github.com/multilink/multilink/internal/topology"
)

// hubPin is the pin of d's API key, as `multilink fingerprint` prints it.
func hubPin(t testing.TB, d *daemon) string {
	t.Helper()
	pin, err := d.Pin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if lines := d.logLines(pin); len(lines) == 0 {
		t.Errorf("the daemon's start-up log does not show its pin %s", pin)
	}
	return pin
}

// pinned is body (a client start body with the spec's http://
// server_api_url) in the default setup: https:// with the hub's pin.
func pinned(t testing.TB, hub *daemon, body []byte) []byte {
	t.Helper()
	return withPin(t, body, hubPin(t, hub))
}

// withPin is body pointed at https:// with server_api_pin pin.
func withPin(t testing.TB, body []byte, pin string) []byte {
	t.Helper()
	const from = `"server_api_url": "http://`
	if !bytes.Contains(body, []byte(from)) {
		t.Fatalf("body has no %s: %s", from, body)
	}
	return bytes.Replace(body, []byte(from), []byte(`"server_api_pin": "`+pin+`", "server_api_url": "https://`), 1)
}

// TestGatewayPinsHub: a gateway pointed at https:// with the hub's pin
// fetches the key over TLS and brings the bond up; with another pin it is
// refused with an error naming both pins and nothing is made; without a
// pin the body is refused naming server_api_pin.
func TestGatewayPinsHub(t *testing.T) {
	nstest.HostOnly(t)
	tp := newTopology(t)
	hub := startDaemon(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken)
	gw := startDaemon(t, tp.gw, "127.0.0.1:"+topology.APIPort, testToken, "--bond-driver", "ebpf")
	if code := hub.call(http.MethodPost, "/v1/server/start", specServerBody(t), nil); code != http.StatusOK {
		t.Fatalf("server start: %d", code)
	}
	pin := hubPin(t, hub)
	https := bytes.Replace(specClientBody(t), []byte(`"http://`), []byte(`"https://`), 1)

	var e struct {
		Error string `json:"error"`
		Field string `json:"field"`
	}
	if code := gw.call(http.MethodPost, "/v1/client/start", https, &e); code != http.StatusBadRequest || e.Field != "server_api_pin" ||
		!strings.Contains(e.Error, "multilink fingerprint") {
		t.Errorf("https without a pin: %d %+v, want 400 naming server_api_pin and how to get it", code, e)
	}
	const wrong = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	if code := gw.call(http.MethodPost, "/v1/client/start", withPin(t, specClientBody(t), wrong), &e); code != http.StatusBadGateway ||
		!strings.Contains(e.Error, pin) || !strings.Contains(e.Error, wrong) {
		t.Errorf("another pin: %d %q, want 502 naming %s and %s", code, e.Error, pin, wrong)
	}
	if got := links(t, tp.gw); len(got) != 3 {
		t.Errorf("interfaces after the refusal: %v", got)
	}
	if code := gw.call(http.MethodPost, "/v1/client/start", withPin(t, specClientBody(t), pin), nil); code != http.StatusOK {
		t.Fatalf("https with the hub's pin: %d", code)
	}
	waitActive(t, gw, "tap1", 30e9)
	pingOK(t, tp.gw, topology.HubTunnel)
}
