package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/topology"
)

// TestServerLifecycle drives a hub through the spec's server endpoints with
// the spec's example body, in the spec's static-key mode (asked for: its
// key endpoint has a key to give), and checks the kernel and processes at
// each step.
func TestServerLifecycle(t *testing.T) {
	tp := newTopology(t)
	hub := startDaemon(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken)
	specServerBody := staticServerBody

	if code := hub.callAuth(http.MethodPost, "/v1/server/start", specServerBody(t), nil, false); code != http.StatusUnauthorized {
		t.Fatalf("start without token: %d, want 401", code)
	}
	var st map[string]any
	if code := hub.call(http.MethodPost, "/v1/server/start", specServerBody(t), &st); code != http.StatusOK {
		t.Fatalf("server start with the spec's body: %d %v", code, st)
	}
	if code := hub.call(http.MethodPost, "/v1/server/start", specServerBody(t), nil); code != http.StatusConflict {
		t.Fatalf("second start: %d, want 409", code)
	}
	for _, tap := range []string{"tap1", "tap2"} {
		if m := masterOf(t, tp.hub, tap); m != "br0" {
			t.Errorf("%s master = %q, want br0", tap, m)
		}
	}
	if n := len(openvpnPids(t, tp.hub)); n != 2 {
		t.Errorf("%d openvpn processes in hub, want 2", n)
	}
	out := tp.hub.Run(t, "ip", "-4", "-o", "addr", "show", "dev", "br0")
	if !strings.Contains(out, topology.HubTunnel+"/24") {
		t.Errorf("br0 address: %s", out)
	}

	var status struct {
		Started bool `json:"started"`
		Servers []struct {
			Bridge string `json:"bridge_interface"`
			Links  []struct {
				Tap     string `json:"tap"`
				Port    int    `json:"port"`
				Running bool   `json:"running"`
			} `json:"links"`
		} `json:"servers"`
	}
	if code := hub.callAuth(http.MethodGet, "/v1/server/status", nil, &status, false); code != http.StatusOK {
		t.Fatalf("status: %d", code)
	}
	if !status.Started || len(status.Servers) != 1 || len(status.Servers[0].Links) != 2 {
		t.Fatalf("status: %+v", status)
	}
	for i, l := range status.Servers[0].Links {
		if l.Port != 1191+i || !l.Running {
			t.Errorf("link %d: %+v, want port %d running", i, l, 1191+i)
		}
	}

	if code := hub.callAuth(http.MethodGet, "/v1/server/key", nil, nil, false); code != http.StatusUnauthorized {
		t.Errorf("key without token: %d, want 401", code)
	}
	var key struct {
		Key   string `json:"key"`
		Links []struct {
			Port int `json:"port"`
		} `json:"links"`
	}
	if code := hub.call(http.MethodGet, "/v1/server/key", nil, &key); code != http.StatusOK {
		t.Fatalf("key: %d", code)
	}
	if !strings.Contains(key.Key, "BEGIN OpenVPN Static key V1") || len(key.Links) != 2 {
		t.Errorf("key answer: %+v", key)
	}
	keyFile := filepath.Join(hub.stateDir, "keys", "br0.key")
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file %s: %v %v, want mode 0600", keyFile, fi, err)
	}

	var health map[string]any
	if code := hub.callAuth(http.MethodGet, "/health", nil, &health, false); code != http.StatusOK || health["status"] != "ok" {
		t.Errorf("health: %d %v", code, health)
	}

	if code := hub.call(http.MethodPost, "/v1/server/stop/br0", nil, nil); code != http.StatusOK {
		t.Fatalf("stop: %d", code)
	}
	if code := hub.call(http.MethodPost, "/v1/server/stop/br0", nil, nil); code != http.StatusNotFound {
		t.Errorf("second stop: %d, want 404", code)
	}
	assertNothingLeft(t, tp.hub.Name, links(t, tp.hub), openvpnPids(t, tp.hub))
	assertNoFiles(t, hub)
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("key file left after stop: %v", err)
	}
}

// assertNoFiles fails if d's state dir holds a file other than the
// desired state and the dir's own (the owner mark's instance id, the lock,
// the routing journal, the API's TLS key and certificate), or if the
// desired state still desires something:
// after an explicit stop nothing of ours stays on disk (keys, tunnel
// configs).
func assertNoFiles(t testing.TB, d *daemon) {
	t.Helper()
	err := filepath.WalkDir(d.stateDir, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		// Kept: the desired state, the daemon's identities (instance id,
		// API key, tunnel certificate), its lock, the journal and claims
		// (both checked empty below), and while it runs its endpoint for
		// the command line.
		kept := []string{"state.json", "instance", "lock", "routes.json", "claims.json", "tls/api.key", "tls/api.crt", "identity/tunnel.key", "identity/tunnel.crt", "api.json"}
		if rel, _ := filepath.Rel(d.stateDir, path); !slices.Contains(kept, rel) {
			t.Errorf("%s: file left after stop: %s", d.ns.Name, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", d.stateDir, err)
	}
	if j, err := os.ReadFile(filepath.Join(d.stateDir, "routes.json")); err == nil && strings.TrimSpace(string(j)) != "[]" {
		t.Errorf("%s: the routing journal still lists %s after stop", d.ns.Name, j)
	}
	if c, err := os.ReadFile(filepath.Join(d.stateDir, "claims.json")); err == nil && strings.TrimSpace(string(c)) != "{}" {
		t.Errorf("%s: the claims file still lists %s after stop", d.ns.Name, c)
	}
	data, err := os.ReadFile(filepath.Join(d.stateDir, "state.json"))
	if err != nil {
		t.Fatalf("read desired state: %v", err)
	}
	var st struct {
		Servers []any `json:"servers"`
		Clients []any `json:"clients"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("desired state is not JSON: %v\n%s", err, data)
	}
	if len(st.Servers)+len(st.Clients) != 0 {
		t.Errorf("%s: desired state after stop still lists %s", d.ns.Name, data)
	}
}

// assertNothingLeft fails if a namespace still has a link or process of ours.
func assertNothingLeft(t testing.TB, ns string, links, pids []string) {
	t.Helper()
	for _, l := range links {
		if l == "br0" || l == "bond0" || strings.HasPrefix(l, "tap") {
			t.Errorf("%s: link %s left", ns, l)
		}
	}
	if len(pids) > 0 {
		t.Errorf("%s: openvpn processes left: %v", ns, pids)
	}
}
