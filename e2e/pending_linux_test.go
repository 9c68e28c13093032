package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// TestRestoreKeepsPending: a saved client that cannot start at boot (its
// hw_int does not exist yet, as a USB modem that appears late) stays in the
// desired state, is reported by /health and status, and leaves it only
// through an API stop.
func TestRestoreKeepsPending(t *testing.T) {
	nstest.HostOnly(t)
	nstest.RequireAdmin(t)
	ns := nstest.New(t, "mlpend")
	ns.Run(t, "ip", "link", "set", "lo", "up")
	stateDir := t.TempDir()
	state := []byte(`{"clients": [` + string(specClientBody(t)) + `]}`)
	if err := os.WriteFile(filepath.Join(stateDir, "state.json"), state, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemonIn(t, ns, "127.0.0.1:"+topology.APIPort, testToken, stateDir)

	var h struct {
		Status string `json:"status"`
		Checks []struct {
			Name   string `json:"name"`
			Detail string `json:"detail"`
		} `json:"checks"`
	}
	if code := d.callAuth(http.MethodGet, "/health", nil, &h, false); code != http.StatusOK || h.Status != "degraded" ||
		len(h.Checks) != 1 || h.Checks[0].Name != "client/bond0" || !strings.Contains(h.Checks[0].Detail, "no interface u1") {
		t.Errorf("health: %d %+v", code, h)
	}
	var st struct {
		Started bool `json:"started"`
		Clients []struct {
			Bond    string `json:"bond"`
			Pending string `json:"pending"`
		} `json:"clients"`
	}
	if code := d.callAuth(http.MethodGet, "/v1/client/status", nil, &st, false); code != http.StatusOK || st.Started ||
		len(st.Clients) != 1 || st.Clients[0].Bond != "bond0" || st.Clients[0].Pending == "" {
		t.Errorf("client status: %d %+v", code, st)
	}
	if data, err := os.ReadFile(filepath.Join(stateDir, "state.json")); err != nil || !strings.Contains(string(data), "bond0") {
		t.Errorf("desired state lost bond0 (%v):\n%s", err, data)
	}

	if code := d.call(http.MethodPost, "/v1/client/stop/bond0", nil, nil); code != http.StatusOK {
		t.Fatalf("stop of the pending client: %d", code)
	}
	assertNoFiles(t, d)
	if code := d.callAuth(http.MethodGet, "/health", nil, &h, false); code != http.StatusOK || h.Status != "ok" {
		t.Errorf("health after the stop: %d %+v", code, h)
	}
}
