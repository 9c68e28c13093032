package testsupport

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
)

// FakeNetlink is a netlink handle in memory: links by name, routes and
// rules, every change written to its Transcript ("add bridge br0", "addr
// br0 10.8.0.254/24", "up br0", "master tap1 br0", "del br0", "route
// table 1 10.0.0.0/24 gw <nil> dev 2", "route del ...", "rule pref 1000
// fwmark 0x1 lookup 1", "rule del ..."); reads are not recorded. It has
// what gateway.Netlink and hub.Netlink ask for. A package's own fakes
// (tunnels, a bond driver) can record into the same Transcript and add or
// remove links. Its methods may be called concurrently.
type FakeNetlink struct {
	*Transcript
	mu        sync.Mutex
	links     map[string]netlink.Link
	addrs     map[string][]netlink.Addr // by link name
	routes    map[string]bool
	rules     map[string]bool
	next      int   // the next ifindex
	lookupErr error // LinkByName of an existing link fails with this
}

// NewFakeNetlink is a host whose links are the devices named, with
// ifindexes 2, 3, ... in order (1 being the loopback, left out).
func NewFakeNetlink(devices ...string) *FakeNetlink {
	n := &FakeNetlink{Transcript: &Transcript{}, links: map[string]netlink.Link{},
		routes: map[string]bool{}, rules: map[string]bool{}, next: 2}
	for _, name := range devices {
		n.AddLink(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: name}})
	}
	return n
}

// AddLink puts l on the host without recording it (a fake tunnel's TAP);
// a link without an ifindex gets the next one.
func (n *FakeNetlink) AddLink(l netlink.Link) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.add(l)
}

func (n *FakeNetlink) add(l netlink.Link) {
	if l.Attrs().Index == 0 {
		l.Attrs().Index = n.next
		n.next++
	}
	n.links[l.Attrs().Name] = l
}

// RemoveLink takes the link name off the host without recording it.
func (n *FakeNetlink) RemoveLink(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.links, name)
	delete(n.addrs, name)
}

// FailLookups makes LinkByName of an existing link fail with err (nil:
// answer again).
func (n *FakeNetlink) FailLookups(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lookupErr = err
}

// Links are the names of the links on the host, sorted.
func (n *FakeNetlink) Links() []string { return sortedKeys(n, n.links) }

// Routes are the routes in place, sorted, as their transcript lines
// (without "route ").
func (n *FakeNetlink) Routes() []string { return sortedKeys(n, n.routes) }

// Rules are the rules in place, sorted, as their transcript lines
// (without "rule ").
func (n *FakeNetlink) Rules() []string { return sortedKeys(n, n.rules) }

// sortedKeys are the keys of m, one of n's maps, sorted.
func sortedKeys[V any](n *FakeNetlink, m map[string]V) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// LinkAdd adds l ("add <type> <name>").
func (n *FakeNetlink) LinkAdd(l netlink.Link) error {
	if err := n.Do("add " + l.Type() + " " + l.Attrs().Name); err != nil {
		return err
	}
	n.AddLink(l)
	return nil
}

// LinkDel removes l ("del <name>").
func (n *FakeNetlink) LinkDel(l netlink.Link) error {
	n.RemoveLink(l.Attrs().Name)
	return n.Do("del " + l.Attrs().Name)
}

// LinkByName finds a link; a missing one is netlink.LinkNotFoundError, as
// netlink has it.
func (n *FakeNetlink) LinkByName(name string) (netlink.Link, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	l, ok := n.links[name]
	switch {
	case !ok:
		return nil, netlink.LinkNotFoundError{}
	case n.lookupErr != nil:
		return nil, n.lookupErr
	}
	return l, nil
}

// LinkSetMaster enslaves l in master ("master <l> <master>").
func (n *FakeNetlink) LinkSetMaster(l, master netlink.Link) error {
	return n.Do("master " + l.Attrs().Name + " " + master.Attrs().Name)
}

// LinkSetUp brings l up ("up <l>").
func (n *FakeNetlink) LinkSetUp(l netlink.Link) error { return n.Do("up " + l.Attrs().Name) }

// AddrReplace puts an address on l ("addr <l> <address>").
func (n *FakeNetlink) AddrReplace(l netlink.Link, a *netlink.Addr) error {
	if err := n.Do("addr " + l.Attrs().Name + " " + a.IPNet.String()); err != nil {
		return err
	}
	n.AddAddr(l.Attrs().Name, a.IPNet.String())
	return nil
}

// AddAddr puts the address cidr on the link name without recording it
// (an underlay's address).
func (n *FakeNetlink) AddAddr(name, cidr string) {
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		panic(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.addrs == nil {
		n.addrs = map[string][]netlink.Addr{}
	}
	n.addrs[name] = append(n.addrs[name], *a)
}

// AddrList lists l's addresses (all links' for nil); family is ignored.
func (n *FakeNetlink) AddrList(l netlink.Link, _ int) ([]netlink.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if l != nil {
		return slices.Clone(n.addrs[l.Attrs().Name]), nil
	}
	var out []netlink.Addr
	for _, name := range slices.Sorted(maps.Keys(n.addrs)) {
		out = append(out, n.addrs[name]...)
	}
	return out, nil
}

// AddrDel removes address a from l ("addrdel <l> <address>").
func (n *FakeNetlink) AddrDel(l netlink.Link, a *netlink.Addr) error {
	if err := n.Do("addrdel " + l.Attrs().Name + " " + a.IPNet.String()); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	name := l.Attrs().Name
	n.addrs[name] = slices.DeleteFunc(n.addrs[name], func(x netlink.Addr) bool { return x.IPNet.String() == a.IPNet.String() })
	return nil
}

// LinkList lists the links, sorted by name.
func (n *FakeNetlink) LinkList() ([]netlink.Link, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]netlink.Link, 0, len(n.links))
	for _, name := range slices.Sorted(maps.Keys(n.links)) {
		out = append(out, n.links[name])
	}
	return out, nil
}

// LinkSetAlias sets l's alias ("alias <l> <alias>").
func (n *FakeNetlink) LinkSetAlias(l netlink.Link, alias string) error {
	if err := n.Do("alias " + l.Attrs().Name + " " + alias); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if have, ok := n.links[l.Attrs().Name]; ok {
		have.Attrs().Alias = alias
	}
	return nil
}

func routeKey(r *netlink.Route) string {
	return fmt.Sprintf("table %d %s gw %v dev %d", r.Table, r.Dst, r.Gw, r.LinkIndex)
}

func ruleKey(r *netlink.Rule) string {
	return fmt.Sprintf("pref %d fwmark %#x lookup %d", r.Priority, r.Mark, r.Table)
}

// RouteReplace puts r in place ("route <route>").
func (n *FakeNetlink) RouteReplace(r *netlink.Route) error {
	return n.put(n.routes, "route ", routeKey(r))
}

// RouteDel removes r ("route del <route>").
func (n *FakeNetlink) RouteDel(r *netlink.Route) error {
	return n.drop(n.routes, "route del ", routeKey(r))
}

// RuleAdd puts r in place ("rule <rule>").
func (n *FakeNetlink) RuleAdd(r *netlink.Rule) error { return n.put(n.rules, "rule ", ruleKey(r)) }

// RuleDel removes r ("rule del <rule>").
func (n *FakeNetlink) RuleDel(r *netlink.Rule) error { return n.drop(n.rules, "rule del ", ruleKey(r)) }

// put records op+key and, unless that fails, puts key in set.
func (n *FakeNetlink) put(set map[string]bool, op, key string) error {
	if err := n.Do(op + key); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	set[key] = true
	return nil
}

// drop takes key out of set and records op+key.
func (n *FakeNetlink) drop(set map[string]bool, op, key string) error {
	n.mu.Lock()
	delete(set, key)
	n.mu.Unlock()
	return n.Do(op + key)
}
