package daemon

import (
	"context"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/config"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
)

func TestHealth(t *testing.T) {
	hubLinks := func(running ...bool) []api.ServerLink {
		var out []api.ServerLink
		for _, r := range running {
			out = append(out, api.ServerLink{Running: r})
		}
		return out
	}
	gwLinks := func(running ...bool) []api.ClientLink {
		var out []api.ClientLink
		for _, r := range running {
			out = append(out, api.ClientLink{Running: r})
		}
		return out
	}
	for _, c := range []struct {
		name    string
		servers []api.ServerStatus
		clients []api.ClientStatus
		pending bool // a client is pending besides
		want    string
		checks  int
	}{
		{name: "idle", want: "ok"},
		{name: "all well", want: "ok", checks: 2,
			servers: []api.ServerStatus{{Bridge: "br0", Present: true, Links: hubLinks(true, true)}},
			clients: []api.ClientStatus{{Bond: "bond0", Present: true, Active: "tap1", Links: gwLinks(true, true)}}},
		{name: "a server tunnel down", want: "degraded", checks: 1,
			servers: []api.ServerStatus{{Bridge: "br0", Present: true, Links: hubLinks(true, false)}}},
		{name: "no active slave", want: "degraded", checks: 1,
			clients: []api.ClientStatus{{Bond: "bond0", Present: true, Links: gwLinks(true, true)}}},
		{name: "a client tunnel down", want: "degraded", checks: 1,
			clients: []api.ClientStatus{{Bond: "bond0", Present: true, Active: "tap1", Links: gwLinks(false, true)}}},
		{name: "bridge missing", want: "down", checks: 2,
			servers: []api.ServerStatus{{Bridge: "br0", Links: hubLinks(true, true)}},
			clients: []api.ClientStatus{{Bond: "bond0", Present: true, Links: gwLinks(true, true)}}},
		{name: "no server tunnel", want: "down", checks: 1,
			servers: []api.ServerStatus{{Bridge: "br0", Present: true, Links: hubLinks(false, false)}}},
		{name: "bond missing", want: "down", checks: 1,
			clients: []api.ClientStatus{{Bond: "bond0", Active: "tap1", Links: gwLinks(true, true)}}},
		{name: "pending", want: "degraded", checks: 2, pending: true,
			servers: []api.ServerStatus{{Bridge: "br0", Present: true, Links: hubLinks(true, true)}}},
		{name: "down and pending", want: "down", checks: 2, pending: true,
			clients: []api.ClientStatus{{Bond: "bond0", Active: "tap1", Links: gwLinks(true, true)}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.hub.SetStatuses(c.servers)
			f.gw.SetStatuses(c.clients)
			if c.pending {
				f.gw.SetFail("bond1", errkind.Unavailable(nil, "reach the hub"))
				cl := testsupport.SpecClient(t)
				cl.Bond = "bond1"
				f.restore(context.Background(), config.File{Clients: []api.Client{cl}})
			}
			rep := health{r: f.roles}.Health(context.Background())
			if rep.Status != c.want || len(rep.Checks) != c.checks {
				t.Errorf("health %+v, want %s with %d checks", rep, c.want, c.checks)
			}
			for _, ch := range rep.Checks {
				if ch.Detail == "" || ch.OK != (c.want == "ok") && len(rep.Checks) == 1 {
					t.Errorf("check %+v", ch)
				}
			}
		})
	}
}
