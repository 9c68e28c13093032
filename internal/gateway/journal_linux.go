package gateway

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// sweepRoutes removes the rules and routes of every mark the journal
// lists (what a crashed run left), then forgets them.
func sweepRoutes(nl *netlink.Handle, j *journal, log *slog.Logger) error {
	var errs []error
	for _, mark := range j.left() {
		rule := netlink.NewRule()
		rule.Family = unix.AF_INET
		rule.Mark = mark
		rule.Mask = new(uint32(0xffffffff))
		rule.Table = int(mark)
		rule.Priority = rulePriority
		if err := nl.RuleDel(rule); err != nil && !gone(err) {
			errs = append(errs, fmt.Errorf("remove rule fwmark %#x: %w", mark, err))
			continue
		}
		routes, err := nl.RouteListFiltered(unix.AF_INET, &netlink.Route{Table: int(mark)}, netlink.RT_FILTER_TABLE)
		if err != nil {
			errs = append(errs, fmt.Errorf("list routes of table %d: %w", mark, err))
			continue
		}
		for _, r := range routes {
			if err := nl.RouteDel(&r); err != nil && !gone(err) {
				errs = append(errs, fmt.Errorf("remove route %s table %d: %w", r.Dst, mark, err))
			}
		}
		log.Warn("removed the policy routing an earlier run of this daemon left", "fwmark", fmt.Sprintf("%#x", mark), "routes", len(routes))
		if err := j.set(mark, false); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
