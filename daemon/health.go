package daemon

import (
	"context"
	"fmt"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/tunnel"
)

// health reports what really runs: every started bridge and bond present
// in the kernel, every tunnel process alive, every bond with an active
// slave. Nothing started is healthy (an idle daemon).
type health struct {
	r       *roles
	tunnels *tunnel.Manager
}

// Health implements api.Health. "down": a bridge or bond is missing or one
// has no running tunnel at all; "degraded": some tunnel is not running, a
// bond has no active slave, or a desired server or client does not run
// (pending: its start failed and is retried).
func (h health) Health(ctx context.Context) api.Report {
	rep := api.Report{Status: "ok"}
	worse := func(s string) {
		if s == "down" || rep.Status == "ok" {
			rep.Status = s
		}
	}
	for _, s := range h.r.hub.Status(ctx) {
		running := 0
		for _, l := range s.Links {
			if l.Running {
				running++
			}
		}
		c := api.Check{Name: "server/" + s.Bridge, OK: s.Present && running == len(s.Links),
			Detail: fmt.Sprintf("bridge present: %t, tunnels running: %d/%d", s.Present, running, len(s.Links))}
		rep.Checks = append(rep.Checks, c)
		switch {
		case !s.Present || running == 0:
			worse("down")
		case !c.OK:
			worse("degraded")
		}
	}
	for _, s := range h.r.gw.Status(ctx) {
		running := 0
		for _, l := range s.Links {
			if l.Running {
				running++
			}
		}
		c := api.Check{Name: "client/" + s.Bond, OK: s.Present && s.Active != "" && running == len(s.Links),
			Detail: fmt.Sprintf("bond present: %t, active slave: %q, tunnels running: %d/%d", s.Present, s.Active, running, len(s.Links))}
		rep.Checks = append(rep.Checks, c)
		switch {
		case !s.Present || running == 0:
			worse("down")
		case !c.OK:
			worse("degraded")
		}
	}
	list, why := h.r.pendingList()
	for i, p := range list {
		rep.Checks = append(rep.Checks, api.Check{Name: p.key(), OK: false, Detail: why[i]})
		worse("degraded")
	}
	return rep
}
