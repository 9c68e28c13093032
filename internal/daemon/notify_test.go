package daemon

import (
	"testing"

	"github.com/multilink/multilink/api"
)

func TestStatusLine(t *testing.T) {
	for _, c := range []struct {
		rep  api.HealthReport
		want string
	}{
		{api.HealthReport{Status: api.StatusOK}, "ok: 0 servers, 0 clients"},
		{api.HealthReport{Status: api.StatusDegraded, Checks: []api.HealthCheck{
			{Name: "server/br0", OK: true}, {Name: "client/bond0", OK: false}, {Name: "client/bond1", OK: true}}},
			"degraded: 1 server, 2 clients; not ok: client/bond0"},
	} {
		if got := statusLine(c.rep); got != c.want {
			t.Errorf("statusLine(%+v) = %q, want %q", c.rep, got, c.want)
		}
	}
}
