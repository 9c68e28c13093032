package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/nstest"

	"github.com/multilink/multilink/internal/topology"
)

// TestGatewayRefusesImpostorHub: a gateway configured with https:// and
// the real hub's pin meets an impostor at the hub's address: the real hub
// is gone and another multilink daemon, with its own key and without the
// gateway's token, answers on HubU1:3333 in its place. The client start is
// refused with 502 naming both pins (the configured one and the
// impostor's, as `multilink fingerprint` prints them), nothing is made on
// the gateway, and the impostor never got a request from the gateway, so
// never saw its token: its log (which has one line per API request, with
// the client's address) shows only the TLS handshake the gateway aborted.
// As the control, the same gateway pointed at the impostor's own pin does
// send it the key request, and the impostor's log shows it: the check
// would catch a token sent.
func TestGatewayRefusesImpostorHub(t *testing.T) {
	nstest.HostOnly(t)
	tp := newTopology(t)
	hub := startDaemon(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken)
	if code := hub.call(http.MethodPost, "/v1/server/start", specServerBody(t), nil); code != http.StatusOK {
		t.Fatalf("server start: %d", code)
	}
	pin := hubPin(t, hub)
	if err := hub.stop(); err != nil {
		t.Fatalf("stop the real hub: %v", err)
	}
	// The impostor: its own state dir (so its own key), a token of its own.
	impostor := startDaemon(t, tp.hub, "0.0.0.0:"+topology.APIPort, "the-impostor-does-not-know-the-token")
	impostorPin := hubPin(t, impostor)
	if impostorPin == pin {
		t.Fatalf("the impostor has the hub's pin %s", pin)
	}

	gw := startDaemon(t, tp.gw, "127.0.0.1:"+topology.APIPort, testToken, gatewayArgs(t)...)
	before := sortedLinks(t, tp.gw)
	var e apiError
	if code := gw.call(http.MethodPost, "/v1/client/start", withPin(t, specClientBody(t), pin), &e); code != http.StatusBadGateway ||
		!strings.Contains(e.Error, pin) || !strings.Contains(e.Error, impostorPin) {
		t.Errorf("client start against the impostor: %d %q, want 502 naming the hub's pin %s and the impostor's %s", code, e.Error, pin, impostorPin)
	}
	assertGatewayUntouched(t, tp, gw, before)

	// The impostor saw the gateway abort the handshake (its HTTP server
	// logs that, maybe just after the gateway answered) and no request.
	fromGw := "from " + topology.GwU1 + ":"
	var aborted []string
	if !waitFor(t, 5*time.Second, 50*time.Millisecond, func() bool {
		aborted = impostor.logLines("TLS handshake error " + fromGw)
		return len(aborted) > 0
	}) {
		t.Errorf("the impostor's log has no aborted TLS handshake %s", fromGw)
	}
	for _, l := range aborted {
		if !strings.Contains(l, "bad certificate") {
			t.Errorf("the impostor's handshake with the gateway did not end with the gateway's bad-certificate alert: %s", l)
		}
	}
	if l := impostor.logLines("remote=" + topology.GwU1); len(l) != 0 {
		t.Errorf("the impostor got requests from the gateway: %q", l)
	}

	// The control: trusting the impostor's key, the gateway sends it the
	// key request with its token (the impostor refuses it: not its token).
	if code := gw.call(http.MethodPost, "/v1/client/start", withPin(t, specClientBody(t), impostorPin), &e); code != http.StatusBadGateway ||
		!strings.Contains(e.Error, "401") {
		t.Errorf("client start trusting the impostor: %d %q, want 502 with the impostor's 401", code, e.Error)
	}
	if l := waitLogLines(t, impostor, "remote="+topology.GwU1, 1); !strings.Contains(strings.Join(l, "\n"), "path=/v1/server/claim") {
		t.Errorf("the impostor's log does not show the claim the gateway sent when trusting it: %q", l)
	}
	assertGatewayUntouched(t, tp, gw, before)
}
