package gateway

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// routeSweeper is what a sweep of the policy routing needs of netlink.
type routeSweeper interface {
	RuleDel(rule *netlink.Rule) error
	RouteDel(route *netlink.Route) error
	RouteListFiltered(family int, filter *netlink.Route, mask uint64) ([]netlink.Route, error)
}

// sweepRoutes removes the rules and routes of every mark the journal
// lists but keep (what an earlier run left and nothing adopted), then
// forgets them. A nil nl sweeps nothing (unit tests).
func sweepRoutes(nl routeSweeper, j *journal, keep func(mark uint32) bool, log *slog.Logger) error {
	if nl == nil {
		return nil
	}
	var errs []error
	for _, mark := range j.left() {
		if keep != nil && keep(mark) {
			continue
		}
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

// PurgeRoutes removes the policy routing the journal at path lists (a
// kept data plane's, for multilink purge) and empties the journal.
func PurgeRoutes(nl *netlink.Handle, path string, log *slog.Logger) error {
	j, err := openJournal(path)
	if err != nil {
		return err
	}
	return sweepRoutes(nl, j, nil, log)
}
