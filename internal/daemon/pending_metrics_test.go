package daemon

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/config"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
)

// TestPendingMetrics: multilink_pending_starts counts each role's
// pending entries, 0 for a role with none, and drops an entry stopped
// through the API.
func TestPendingMetrics(t *testing.T) {
	f := newFixture(t)
	want := func(what string, servers, clients int) {
		t.Helper()
		exp := `# HELP multilink_pending_starts Desired servers (role server) and clients (role client) whose start failed and is retried.
# TYPE multilink_pending_starts gauge
multilink_pending_starts{role="client"} ` + strconv.Itoa(clients) + `
multilink_pending_starts{role="server"} ` + strconv.Itoa(servers) + `
`
		if err := testutil.CollectAndCompare(PendingCollector(f.roles), strings.NewReader(exp)); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	want("nothing desired", 0, 0)
	f.hub.SetFail("br0", errkind.Unsupported(errors.New("exec: not found"), "find openvpn"))
	f.gw.SetFail("bond0", errkind.Invalid("bond.bond0.slaves[1].hw_int", "no interface wlan0 on this host"))
	f.restore(context.Background(), config.File{Servers: []api.Server{specServer(t)}, Clients: []api.Client{testsupport.SpecClient(t)}})
	want("both failing", 1, 1)
	if err := (hubRole{f.roles}).Stop(context.Background(), "br0"); err != nil {
		t.Fatal(err)
	}
	want("pending server stopped", 0, 1)
}
