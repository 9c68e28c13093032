package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// TestTokenBeatsInsecure: a daemon given a token (--token-file) and
// --insecure-no-auth keeps its API protected and says the flag is ignored.
func TestTokenBeatsInsecure(t *testing.T) {
	nstest.HostOnly(t)
	nstest.RequireAdmin(t)
	ns := nstest.New(t, "mlauth")
	ns.Run(t, "ip", "link", "set", "lo", "up")
	d := startDaemon(t, ns, "127.0.0.1:"+topology.APIPort, testToken, "--insecure-no-auth")
	if code := d.callAuth(http.MethodPost, "/v1/server/start", specServerBody(t), nil, false); code != http.StatusUnauthorized {
		t.Errorf("server start without the token: %d, want 401", code)
	}
	if lines := d.logLines("--insecure-no-auth is ignored"); len(lines) == 0 {
		t.Errorf("no warning that --insecure-no-auth is ignored:\n%s", d.Logs(0))
	}
	if strings.Contains(d.Logs(0), testToken) {
		t.Error("the token is in the log")
	}
}
