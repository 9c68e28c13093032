package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/multilink/multilink/internal/topology"
)

// TestRestartRestores checks that state is not kept in memory: a daemon
// stopped with SIGTERM removes what it made, and a new daemon on the same
// state dir brings the server back with the same link key.
func TestRestartRestores(t *testing.T) {
	tp := newTopology(t)
	hub := startDaemon(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken)
	if code := hub.call(http.MethodPost, "/v1/server/start", specServerBody(t), nil); code != http.StatusOK {
		t.Fatalf("server start: %d", code)
	}
	keyFile := filepath.Join(hub.stateDir, "keys", "br0.key")
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
	}
	if code := again.call(http.MethodGet, "/v1/server/status", nil, &status); code != http.StatusOK || !status.Started {
		t.Fatalf("status after restart: %d %+v", code, status)
	}
	if m := masterOf(t, tp.hub, "tap2"); m != "br0" {
		t.Errorf("tap2 master after restart = %q, want br0", m)
	}
	key2, err := os.ReadFile(keyFile)
	if err != nil || string(key2) != string(key1) {
		t.Errorf("link key changed across a restart (err %v)", err)
	}
}
