package e2e

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/topology"
)

// TestClientStartWithoutBonding: with the kernel's bonding driver forced
// (--bond-driver kernel) on a kernel that has none, a client start with
// the spec's body fails with 501 and the reason, and rolls back everything
// it made (routes, rules, tunnels, TAPs, key). The kernel lab has bonding:
// there the test unloads nothing and does not apply.
func TestClientStartWithoutBonding(t *testing.T) {
	tp := newTopology(t)
	if hasBonding(tp.gw) {
		t.Skip("not applicable: this kernel has bonding (TestClientScenario/kernel covers the client)")
	}
	hub := startDaemon(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken)
	gw := startDaemon(t, tp.gw, "127.0.0.1:"+topology.APIPort, testToken, "--bond-driver", "kernel")
	if code := hub.call(http.MethodPost, "/v1/server/start", specServerBody(t), nil); code != http.StatusOK {
		t.Fatalf("server start: %d", code)
	}
	var e struct {
		Error string `json:"error"`
	}
	code := gw.call(http.MethodPost, "/v1/client/start", pinned(t, hub, specClientBody(t)), &e)
	if code != http.StatusNotImplemented || e.Error == "" {
		t.Fatalf("client start without bonding: %d %q, want 501 with the reason", code, e.Error)
	}
	if !strings.Contains(e.Error, "no bonding driver") {
		t.Errorf("error does not say what failed: %q", e.Error)
	}
	assertNothingLeft(t, tp.gw.Name, links(t, tp.gw), openvpnPids(t, tp.gw))
	assertNoRules(t, tp.gw.Name)
	var status struct {
		Started bool `json:"started"`
	}
	if code := gw.call(http.MethodGet, "/v1/client/status", nil, &status); code != http.StatusOK || status.Started {
		t.Errorf("client status after a failed start: %d %+v", code, status)
	}
}

// assertNoRules fails if ns has a policy rule of ours (priority 1000).
func assertNoRules(t testing.TB, ns string) {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "rule", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip rule show in %s: %v\n%s", ns, err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "1000:") {
			t.Errorf("%s: rule left: %s", ns, l)
		}
	}
}
