package daemon

import (
	"context"
	"fmt"

	"github.com/multilink/multilink/api"
)

// health reports what really runs: every started bridge and bond present
// in the kernel, every tunnel process alive, every bond with an active
// slave. Nothing started is healthy (an idle daemon).
type health struct{ r *roles }

// Health implements restapi.Health. "down": a bridge or bond is missing or one
// has no running tunnel at all; "degraded": some tunnel is not running, a
// bond has no active slave, or a desired server or client does not run
// (pending: its start failed and is retried).
func (h health) Health(ctx context.Context) api.HealthReport {
	rep := report{HealthReport: api.HealthReport{Status: api.StatusOK}}
	for _, s := range h.r.hub.Status(ctx) {
		n := running(s.Links, func(l api.ServerLink) bool { return l.Running })
		rep.judge("server/"+s.Bridge, s.Present, true, n, len(s.Links),
			fmt.Sprintf("bridge present: %t, tunnels running: %d/%d", s.Present, n, len(s.Links)))
	}
	for _, s := range h.r.gw.Status(ctx) {
		n := running(s.Links, func(l api.ClientLink) bool { return l.Running })
		rep.judge("client/"+s.Bond, s.Present, s.Active != "", n, len(s.Links),
			fmt.Sprintf("bond present: %t, active slave: %q, tunnels running: %d/%d", s.Present, s.Active, n, len(s.Links)))
	}
	list, why := h.r.pendingList()
	for i, p := range list {
		rep.add(api.HealthCheck{Name: p.key(), OK: false, Detail: why[i]}, api.StatusDegraded)
	}
	return rep.HealthReport
}

// report is a Report being put together: its status is the worst so far.
type report struct{ api.HealthReport }

// judge adds the check of one bridge or bond: down when it is missing or
// none of its tunnels runs, degraded when a tunnel does not run or the
// role's own condition (ok) fails.
func (r *report) judge(name string, present, ok bool, running, links int, detail string) {
	c := api.HealthCheck{Name: name, OK: present && ok && running == links, Detail: detail}
	switch {
	case !present || running == 0:
		r.add(c, api.StatusDown)
	case !c.OK:
		r.add(c, api.StatusDegraded)
	default:
		r.add(c, api.StatusOK)
	}
}

// add adds c, whose status is status, and makes the report's status worse
// if status is.
func (r *report) add(c api.HealthCheck, status string) {
	r.Checks = append(r.Checks, c)
	if status == api.StatusDown || status == api.StatusDegraded && r.Status == api.StatusOK {
		r.Status = status
	}
}

// running counts the links up says run.
func running[T any](links []T, up func(T) bool) int {
	n := 0
	for _, l := range links {
		if up(l) {
			n++
		}
	}
	return n
}
