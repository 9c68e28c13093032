package e2e

import (
	"bytes"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/topology"
)

// hubPin is the pin of d's API key, as `multilink fingerprint` prints it.
func hubPin(t testing.TB, d *daemon) string {
	t.Helper()
	out, err := exec.Command(buildBinary(t), "fingerprint", "--state-dir", d.stateDir).Output()
	if err != nil {
		t.Fatalf("multilink fingerprint: %v", err)
	}
	pin := strings.TrimSpace(string(out))
	if !strings.HasPrefix(pin, "sha256//") {
		t.Fatalf("fingerprint printed %q", pin)
	}
	if lines := d.logLines(pin); len(lines) == 0 {
		t.Errorf("the daemon's start-up log does not show its pin %s", pin)
	}
	return pin
}

// TestGatewayPinsHub: a gateway pointed at https:// with the hub's pin
// fetches the key over TLS and brings the bond up; with another pin it is
// refused with an error naming both pins and nothing is made; without a
// pin the body is refused naming server_api_pin.
func TestGatewayPinsHub(t *testing.T) {
	tp := newTopology(t)
	hub := startDaemon(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken)
	gw := startDaemon(t, tp.gw, "127.0.0.1:"+topology.APIPort, testToken, "--bond-driver", "ebpf")
	if code := hub.call(http.MethodPost, "/v1/server/start", specServerBody(t), nil); code != http.StatusOK {
		t.Fatalf("server start: %d", code)
	}
	pin := hubPin(t, hub)
	https := bytes.Replace(specClientBody(t), []byte(`"http://`), []byte(`"https://`), 1)
	withPin := func(p string) []byte {
		return bytes.Replace(https, []byte(`{`), []byte(`{"server_api_pin": "`+p+`", `), 1)
	}

	var e struct {
		Error string `json:"error"`
		Field string `json:"field"`
	}
	if code := gw.call(http.MethodPost, "/v1/client/start", https, &e); code != http.StatusBadRequest || e.Field != "server_api_pin" ||
		!strings.Contains(e.Error, "multilink fingerprint") {
		t.Errorf("https without a pin: %d %+v, want 400 naming server_api_pin and how to get it", code, e)
	}
	const wrong = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	if code := gw.call(http.MethodPost, "/v1/client/start", withPin(wrong), &e); code != http.StatusBadGateway ||
		!strings.Contains(e.Error, pin) || !strings.Contains(e.Error, wrong) {
		t.Errorf("another pin: %d %q, want 502 naming %s and %s", code, e.Error, pin, wrong)
	}
	if got := links(t, tp.gw); len(got) != 3 {
		t.Errorf("interfaces after the refusal: %v", got)
	}
	if code := gw.call(http.MethodPost, "/v1/client/start", withPin(pin), nil); code != http.StatusOK {
		t.Fatalf("https with the hub's pin: %d", code)
	}
	waitActive(t, gw, "tap1", 30e9)
	pingOK(t, tp.gw, topology.HubTunnel)
}
