package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/api"
)

// Policy routing numbers. A link's mark and table are the same number:
// markBase + slot*linksPerSlot + link index. Rules sit before main (32766).
const (
	markBase     = 0x4d4c0000 // "ML"
	linksPerSlot = 16
	rulePriority = 1000
)

// linkRoute is the per-link policy routing of one slave.
type linkRoute struct {
	mark  uint32
	rule  *netlink.Rule
	route *netlink.Route
}

func markFor(slot, i int) uint32 { return uint32(markBase + slot*linksPerSlot + i) }

// planRoute computes the rule and route that pin slave s (index i) of the
// bond in slot to its hw_int, whose ifindex is ifindex.
func planRoute(slot, i int, s api.Slave, ifindex int) linkRoute {
	mark := markFor(slot, i)
	table := int(mark)
	rule := netlink.NewRule()
	rule.Family = unix.AF_INET
	rule.Mark = mark
	rule.Mask = new(uint32(0xffffffff))
	rule.Table = table
	rule.Priority = rulePriority
	r := &netlink.Route{LinkIndex: ifindex, Table: table}
	if s.Gateway.IsValid() {
		r.Dst = hostNet(s.IPServer)
		r.Gw = s.Gateway.AsSlice()
		r.Flags = int(netlink.FLAG_ONLINK)
	} else {
		p := netip.PrefixFrom(s.IPServer, s.Netmask).Masked()
		r.Dst = &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
		r.Scope = netlink.SCOPE_LINK
	}
	return linkRoute{mark: mark, rule: rule, route: r}
}

func hostNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(32, 32)}
}

// addRoute installs lr, journalled first; on error nothing of it is left.
func (g *Gateway) addRoute(lr linkRoute) error {
	if err := g.journal.set(lr.mark, true); err != nil {
		return fmt.Errorf("journal fwmark %#x: %w", lr.mark, err)
	}
	if err := g.nl.RouteReplace(lr.route); err != nil {
		_ = g.journal.set(lr.mark, false)
		return fmt.Errorf("add route %s table %d: %w", lr.route.Dst, lr.route.Table, err)
	}
	if err := g.nl.RuleAdd(lr.rule); err != nil && !errors.Is(err, unix.EEXIST) {
		_ = g.nl.RouteDel(lr.route)
		_ = g.journal.set(lr.mark, false)
		return fmt.Errorf("add rule fwmark %#x table %d: %w", lr.mark, lr.rule.Table, err)
	}
	return nil
}

// delRoute removes lr, ignoring what is gone already.
func (g *Gateway) delRoute(lr linkRoute) error {
	var errs []error
	if err := g.nl.RuleDel(lr.rule); err != nil && !gone(err) {
		errs = append(errs, fmt.Errorf("delete rule fwmark %#x: %w", lr.mark, err))
	}
	if err := g.nl.RouteDel(lr.route); err != nil && !gone(err) {
		errs = append(errs, fmt.Errorf("delete route table %d: %w", lr.route.Table, err))
	}
	if len(errs) == 0 {
		// A rule or route that could not be removed stays journalled, for
		// the next start to remove.
		errs = append(errs, g.journal.set(lr.mark, false))
	}
	return errors.Join(errs...)
}

func gone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENODEV)
}
