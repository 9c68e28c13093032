package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// TestRestartRestores checks that state is not kept in memory: a daemon
// stopped with SIGTERM removes what it made, and a new daemon on the same
// state dir brings the server back with the same link key (static mode)
// or the same tunnel certificate (TLS mode), in the same mode.
func TestRestartRestores(t *testing.T) {
	nstest.OneLabKernel(t)
	for mode, body := range map[string]func(testing.TB) []byte{"static": staticServerBody, "tls": specServerBody} {
		t.Run(mode, func(t *testing.T) { testRestartRestores(t, mode, body(t)) })
	}
}

func testRestartRestores(t *testing.T, mode string, body []byte) {
	tp := newTopology(t)
	hub := startDaemon(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken)
	if code := hub.call(http.MethodPost, "/v1/server/start", body, nil); code != http.StatusOK {
		t.Fatalf("server start: %d", code)
	}
	keyFile := filepath.Join(hub.stateDir, "keys", "br0.key")
	if mode == "tls" {
		keyFile = filepath.Join(hub.stateDir, "identity", "tunnel.crt")
	}
	key1, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.stop(); err != nil {
		t.Fatalf("daemon exit after SIGTERM: %v", err)
	}
	assertNothingLeft(t, tp.hub.Name, links(t, tp.hub), openvpnPids(t, tp.hub))

	again := startDaemonIn(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken, hub.stateDir)
	var status struct {
		Started bool `json:"started"`
		Servers []struct {
			TunnelMode string `json:"tunnel_mode"`
		} `json:"servers"`
	}
	if code := again.call(http.MethodGet, "/v1/server/status", nil, &status); code != http.StatusOK || !status.Started ||
		len(status.Servers) != 1 || status.Servers[0].TunnelMode != mode {
		t.Fatalf("status after restart: %d %+v, want br0 in mode %s", code, status, mode)
	}
	if m := masterOf(t, tp.hub, "tap2"); m != "br0" {
		t.Errorf("tap2 master after restart = %q, want br0", m)
	}
	key2, err := os.ReadFile(keyFile)
	if err != nil || string(key2) != string(key1) {
		t.Errorf("%s changed across a restart (err %v)", keyFile, err)
	}
}
