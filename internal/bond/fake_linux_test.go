package bond

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/api"
)

// fakeNL is a Netlink and Raw that keeps links in memory, acts like the
// kernel's bonding driver where the driver's order matters (bond_options.c
// rules, KERNEL-LAB observations), and records every change it is asked
// for as one line of text. Reads are not recorded.
type fakeNL struct {
	links map[int]*fakeLink
	next  int
	ops   []string

	failOn     string // a change whose line starts with this fails with failErr
	failErr    error
	interrupts int  // LinkList answers ErrDumpInterrupted this many times first
	oldKernel  bool // a kernel before 5.3: no raw attributes, ignored silently
}

type fakeLink struct {
	kind   string // "bond", "tuntap", "veth"
	name   string
	index  int
	master int
	up     bool
	addr   string
	alias  string
	bond   *fakeBond
}

// fakeBond holds a bond's parameters as the kernel keeps them.
type fakeBond struct {
	mode, miimon, updelay, downdelay, peerNotifDelay int
	arpInterval, arpValidate, missedMax              int
	primaryReselect, failOverMac, numPeerNotif       int
	allSlavesActive                                  int
	targets                                          []net.IP
	primary                                          string // a name, as the kernel keeps it
	active                                           int    // ifindex, 0 for none
}

func newFake(names ...string) *fakeNL {
	f := &fakeNL{links: map[int]*fakeLink{}, next: 1}
	f.addLink("lo", "loopback")
	for _, n := range names {
		f.addLink(n, "tuntap")
	}
	return f
}

func (f *fakeNL) addLink(name, kind string) *fakeLink {
	l := &fakeLink{kind: kind, name: name, index: f.next}
	f.links[l.index] = l
	f.next++
	return l
}

func (f *fakeNL) transcript() string {
	if len(f.ops) == 0 {
		return ""
	}
	return strings.Join(f.ops, "\n") + "\n"
}

// do records a change and fails it if it is the one to fail.
func (f *fakeNL) do(line string) error {
	if f.failOn != "" && strings.HasPrefix(line, f.failOn) {
		f.ops = append(f.ops, line+" -> "+f.failErr.Error())
		return f.failErr
	}
	f.ops = append(f.ops, line)
	return nil
}

func (f *fakeNL) byName(name string) *fakeLink {
	for _, l := range f.links {
		if l.name == name {
			return l
		}
	}
	return nil
}

// lookup finds the link a netlink call means: by index, else by name.
func (f *fakeNL) lookup(l netlink.Link) (*fakeLink, error) {
	a := l.Attrs()
	if a.Index != 0 {
		if fl, ok := f.links[a.Index]; ok {
			return fl, nil
		}
		return nil, unix.ENODEV
	}
	if fl := f.byName(a.Name); fl != nil {
		return fl, nil
	}
	return nil, unix.ENODEV
}

func (f *fakeNL) slavesOf(b *fakeLink) []*fakeLink {
	var out []*fakeLink
	for _, l := range f.links {
		if l.master == b.index {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(x, y *fakeLink) int { return x.index - y.index })
	return out
}

// attrsLine renders what netlink's linkModify would send besides the name
// and the index, so a stray attribute (a txqlen of 0) shows in transcripts.
func attrsLine(a *netlink.LinkAttrs) string {
	var s []string
	if a.Flags&net.FlagUp != 0 {
		s = append(s, "flags=up")
	}
	if a.MTU > 0 {
		s = append(s, fmt.Sprintf("mtu=%d", a.MTU))
	}
	if a.TxQLen >= 0 {
		s = append(s, fmt.Sprintf("txqlen=%d", a.TxQLen))
	}
	if a.HardwareAddr != nil {
		s = append(s, "address="+a.HardwareAddr.String())
	}
	if a.MasterIndex != 0 {
		s = append(s, fmt.Sprintf("master=%d", a.MasterIndex))
	}
	return strings.Join(s, " ")
}

// bondLine renders the IFLA_INFO_DATA netlink's addBondAttrs would send for
// b (fields >= 0, non-nil lists), in its order; ifindexes as names.
func (f *fakeNL) bondLine(b *netlink.Bond) string {
	var s []string
	add := func(k string, v int) {
		if v >= 0 {
			s = append(s, fmt.Sprintf("%s=%d", k, v))
		}
	}
	name := func(k string, i int) {
		if i < 0 {
			return
		}
		n := ""
		if l, ok := f.links[i]; ok {
			n = l.name
		} else if i != 0 {
			n = fmt.Sprintf("ifindex%d", i)
		}
		s = append(s, fmt.Sprintf("%s=%q", k, n))
	}
	add("mode", int(b.Mode))
	name("active_slave", b.ActiveSlave)
	add("miimon", b.Miimon)
	add("updelay", b.UpDelay)
	add("downdelay", b.DownDelay)
	add("use_carrier", b.UseCarrier)
	add("arp_interval", b.ArpInterval)
	if b.ArpIpTargets != nil {
		t := make([]string, len(b.ArpIpTargets))
		for i, ip := range b.ArpIpTargets {
			t[i] = ip.String()
		}
		s = append(s, "arp_ip_target=["+strings.Join(t, ",")+"]")
	}
	add("arp_validate", int(b.ArpValidate))
	add("arp_all_targets", int(b.ArpAllTargets))
	name("primary", b.Primary)
	add("primary_reselect", int(b.PrimaryReselect))
	add("fail_over_mac", int(b.FailOverMac))
	add("xmit_hash_policy", int(b.XmitHashPolicy))
	add("resend_igmp", b.ResendIgmp)
	add("num_peer_notif", b.NumPeerNotif)
	add("all_slaves_active", b.AllSlavesActive)
	add("min_links", b.MinLinks)
	add("lp_interval", b.LpInterval)
	add("packets_per_slave", b.PacketsPerSlave)
	add("lacp_rate", int(b.LacpRate))
	add("ad_select", int(b.AdSelect))
	add("ad_actor_sys_prio", b.AdActorSysPrio)
	add("ad_user_port_key", b.AdUserPortKey)
	add("tlb_dynamic_lb", b.TlbDynamicLb)
	if len(s) == 0 {
		return "(nothing)"
	}
	return strings.Join(s, " ")
}

func line(parts ...string) string {
	var s []string
	for _, p := range parts {
		if p != "" {
			s = append(s, p)
		}
	}
	return strings.Join(s, " ")
}

func (f *fakeNL) LinkAdd(l netlink.Link) error {
	b, ok := l.(*netlink.Bond)
	if !ok {
		return fmt.Errorf("fake: LinkAdd of a %s", l.Type())
	}
	if err := f.do(line("add bond", b.Name, f.bondLine(b), attrsLine(&b.LinkAttrs))); err != nil {
		return err
	}
	if f.byName(b.Name) != nil {
		return unix.EEXIST
	}
	nb := f.addLink(b.Name, "bond")
	nb.bond = &fakeBond{missedMax: 2, numPeerNotif: 1}
	if err := f.change(nb, b); err != nil {
		delete(f.links, nb.index)
		return err
	}
	b.Index = nb.index // netlink's ensureIndex does this
	return nil
}

func (f *fakeNL) LinkModify(l netlink.Link) error {
	b, ok := l.(*netlink.Bond)
	if !ok {
		return fmt.Errorf("fake: LinkModify of a %s", l.Type())
	}
	if err := f.do(line("modify", b.Name, f.bondLine(b), attrsLine(&b.LinkAttrs))); err != nil {
		return err
	}
	fl, err := f.lookup(b)
	if err != nil {
		return err
	}
	if fl.kind != "bond" {
		return unix.EOPNOTSUPP
	}
	if b.Index != 0 && fl.up {
		// linkModify always sends IFLA_IFNAME, and do_setlink renames when
		// ifi_index > 0; Linux 6.1's dev_change_name refuses any rename of
		// an up device with EBUSY before it checks that the name is the same.
		return unix.EBUSY
	}
	return f.change(fl, b)
}

// change applies a bond message the way bond_changelink does: attribute by
// attribute, in its order, with the option rules that matter here.
func (f *fakeNL) change(fl *fakeLink, b *netlink.Bond) error {
	k := fl.bond
	slaves := f.slavesOf(fl)
	miimon := 0 // miimon given in this message, as bond_changelink keeps it
	if b.Mode >= 0 {
		switch {
		case len(slaves) > 0:
			return unix.ENOTEMPTY
		case fl.up:
			return unix.EBUSY
		}
		if !api.ModeUsesARP(int(b.Mode)) {
			k.arpInterval = 0
			if k.miimon == 0 {
				k.miimon = 100
			}
		}
		k.arpValidate = 0
		k.mode = int(b.Mode)
	}
	if b.ActiveSlave >= 0 {
		if !api.ModeHasPrimary(k.mode) {
			return unix.EACCES
		}
		if b.ActiveSlave == 0 {
			k.active = 0
			f.reselect(fl)
		} else {
			s, ok := f.links[b.ActiveSlave]
			if !ok {
				return unix.ENODEV
			}
			if s.master != fl.index || !s.up {
				return unix.EINVAL
			}
			k.active = s.index
		}
	}
	if b.Miimon >= 0 {
		miimon = b.Miimon
		k.miimon = b.Miimon
		if b.Miimon > 0 && k.arpInterval > 0 {
			k.arpInterval, k.arpValidate = 0, 0
		}
	}
	for _, d := range []struct {
		v   int
		dst *int
	}{{b.UpDelay, &k.updelay}, {b.DownDelay, &k.downdelay}} {
		if d.v >= 0 {
			if k.miimon == 0 {
				return unix.EPERM
			}
			*d.dst = d.v / k.miimon * k.miimon
		}
	}
	if b.ArpInterval >= 0 {
		if b.ArpInterval > 0 && miimon > 0 {
			return unix.EINVAL
		}
		if !api.ModeUsesARP(k.mode) {
			return unix.EACCES
		}
		k.arpInterval = b.ArpInterval
		if b.ArpInterval > 0 {
			k.miimon = 0
		}
	}
	if b.ArpIpTargets != nil {
		k.targets = slices.Clone(b.ArpIpTargets)
	}
	if b.ArpValidate >= 0 {
		if b.ArpValidate > 0 && miimon > 0 {
			return unix.EINVAL
		}
		if !api.ModeUsesARP(k.mode) {
			return unix.EACCES
		}
		k.arpValidate = int(b.ArpValidate)
	}
	if b.Primary >= 0 {
		if !api.ModeHasPrimary(k.mode) {
			return unix.EACCES
		}
		k.primary = ""
		if s, ok := f.links[b.Primary]; ok {
			k.primary = s.name
		}
		f.reselect(fl)
	}
	if b.PrimaryReselect >= 0 {
		k.primaryReselect = int(b.PrimaryReselect)
	}
	if b.FailOverMac >= 0 {
		if len(slaves) > 0 {
			return unix.ENOTEMPTY
		}
		k.failOverMac = int(b.FailOverMac)
	}
	if b.NumPeerNotif >= 0 {
		k.numPeerNotif = b.NumPeerNotif
	}
	if b.AllSlavesActive >= 0 {
		k.allSlavesActive = b.AllSlavesActive
	}
	return nil
}

// reselect picks the active slave as the kernel does in the modes that
// have one: the primary if it is a slave (KERNEL-LAB: setting primary
// switches at once), else the current one, else the first slave.
func (f *fakeNL) reselect(fl *fakeLink) {
	k := fl.bond
	if !api.ModeHasPrimary(k.mode) {
		k.active = 0
		return
	}
	slaves := f.slavesOf(fl)
	for _, s := range slaves {
		if s.name == k.primary {
			k.active = s.index
			return
		}
	}
	for _, s := range slaves {
		if s.index == k.active {
			return
		}
	}
	k.active = 0
	if len(slaves) > 0 {
		k.active = slaves[0].index
	}
}

func (f *fakeNL) LinkDel(l netlink.Link) error {
	if err := f.do("del " + l.Attrs().Name); err != nil {
		return err
	}
	fl, err := f.lookup(l)
	if err != nil {
		return err
	}
	for _, s := range f.slavesOf(fl) {
		s.master, s.up = 0, false
	}
	delete(f.links, fl.index)
	return nil
}

func (f *fakeNL) LinkSetMaster(l, master netlink.Link) error {
	if err := f.do("master " + l.Attrs().Name + " " + master.Attrs().Name); err != nil {
		return err
	}
	s, err := f.lookup(l)
	if err != nil {
		return err
	}
	m, err := f.lookup(master)
	if err != nil {
		return err
	}
	switch {
	case m.kind != "bond":
		return unix.EOPNOTSUPP
	case s.master != 0:
		return unix.EBUSY
	case s.up:
		return unix.EBUSY // stricter than the kernel: the driver sets slaves down first
	}
	s.master, s.up = m.index, true // bond_enslave opens the slave
	f.reselect(m)
	return nil
}

func (f *fakeNL) LinkSetNoMaster(l netlink.Link) error {
	if err := f.do("nomaster " + l.Attrs().Name); err != nil {
		return err
	}
	s, err := f.lookup(l)
	if err != nil {
		return err
	}
	m := f.links[s.master]
	s.master, s.up = 0, false // the kernel closes a released slave
	if m != nil && m.bond != nil {
		f.reselect(m)
	}
	return nil
}

func (f *fakeNL) LinkSetAlias(l netlink.Link, alias string) error {
	fl, err := f.lookup(l)
	if err != nil {
		return err
	}
	if err := f.do("alias " + fl.name + " " + alias); err != nil {
		return err
	}
	fl.alias = alias
	return nil
}

func (f *fakeNL) LinkSetUp(l netlink.Link) error   { return f.setUp(l, true) }
func (f *fakeNL) LinkSetDown(l netlink.Link) error { return f.setUp(l, false) }

func (f *fakeNL) setUp(l netlink.Link, up bool) error {
	what := "down "
	if up {
		what = "up "
	}
	if err := f.do(what + l.Attrs().Name); err != nil {
		return err
	}
	fl, err := f.lookup(l)
	if err != nil {
		return err
	}
	fl.up = up
	return nil
}

func (f *fakeNL) AddrReplace(l netlink.Link, a *netlink.Addr) error {
	if err := f.do("addr replace " + l.Attrs().Name + " " + a.IPNet.String()); err != nil {
		return err
	}
	fl, err := f.lookup(l)
	if err != nil {
		return err
	}
	fl.addr = a.IPNet.String()
	return nil
}

func (f *fakeNL) SetBondData(name string, data []Attr) error {
	var s []string
	for _, a := range data {
		switch a.Type {
		case attrMissedMax:
			s = append(s, fmt.Sprintf("missed_max=%d", a.Value[0]))
		case attrPeerNotifDelay:
			s = append(s, fmt.Sprintf("peer_notif_delay=%d", binary.NativeEndian.Uint32(a.Value)))
		default:
			s = append(s, fmt.Sprintf("attr%d=%x", a.Type, a.Value))
		}
	}
	if err := f.do("raw " + name + " " + strings.Join(s, " ")); err != nil {
		return err
	}
	fl := f.byName(name)
	if fl == nil {
		return unix.ENODEV
	}
	if fl.kind != "bond" {
		return unix.EOPNOTSUPP
	}
	if f.oldKernel {
		return nil // an old kernel ignores attributes it does not know
	}
	k := fl.bond
	for _, a := range data {
		switch a.Type {
		case attrPeerNotifDelay:
			if k.miimon == 0 {
				return unix.EPERM
			}
			k.peerNotifDelay = int(binary.NativeEndian.Uint32(a.Value)) / k.miimon * k.miimon
		case attrMissedMax:
			if !api.ModeUsesARP(k.mode) {
				return unix.EACCES
			}
			k.missedMax = int(a.Value[0])
		}
	}
	return nil
}

func (f *fakeNL) BondData(name string) (int, []Attr, error) {
	fl := f.byName(name)
	if fl == nil {
		return 0, nil, unix.ENODEV
	}
	if fl.kind != "bond" {
		return 0, nil, fmt.Errorf("a %q link, not a bond", fl.kind)
	}
	if f.oldKernel {
		return fl.index, nil, nil
	}
	d := make([]byte, 4)
	binary.NativeEndian.PutUint32(d, uint32(fl.bond.peerNotifDelay))
	return fl.index, []Attr{
		{Type: unix.IFLA_BOND_MODE, Value: []byte{byte(fl.bond.mode)}},
		{Type: attrPeerNotifDelay, Value: d},
		{Type: attrMissedMax, Value: []byte{byte(fl.bond.missedMax)}},
	}, nil
}

// link renders a fake link as netlink would parse the kernel's answer.
func (f *fakeNL) link(fl *fakeLink) netlink.Link {
	a := netlink.NewLinkAttrs()
	a.Name, a.Index, a.MasterIndex, a.Alias = fl.name, fl.index, fl.master, fl.alias
	if fl.up {
		a.Flags = net.FlagUp
	}
	switch fl.kind {
	case "bond":
		k := fl.bond
		primary := 0
		if p := f.byName(k.primary); p != nil && p.master == fl.index && api.ModeHasPrimary(k.mode) {
			primary = p.index // the kernel reports primary_slave, set on enslave in these modes only
		}
		return &netlink.Bond{
			LinkAttrs:       a,
			Mode:            netlink.BondMode(k.mode),
			ActiveSlave:     k.active,
			Miimon:          k.miimon,
			UpDelay:         k.updelay,
			DownDelay:       k.downdelay,
			ArpInterval:     k.arpInterval,
			ArpIpTargets:    slices.Clone(k.targets),
			ArpValidate:     netlink.BondArpValidate(k.arpValidate),
			Primary:         primary,
			PrimaryReselect: netlink.BondPrimaryReselect(k.primaryReselect),
			FailOverMac:     netlink.BondFailOverMac(k.failOverMac),
			NumPeerNotif:    k.numPeerNotif,
			AllSlavesActive: k.allSlavesActive,
		}
	case "tuntap":
		return &netlink.Tuntap{LinkAttrs: a, Mode: netlink.TUNTAP_MODE_TAP}
	case "veth":
		return &netlink.Veth{LinkAttrs: a}
	}
	return &netlink.Device{LinkAttrs: a}
}

func (f *fakeNL) LinkByName(name string) (netlink.Link, error) {
	if fl := f.byName(name); fl != nil {
		return f.link(fl), nil
	}
	return nil, unix.ENODEV // what netlink gets for a missing link
}

func (f *fakeNL) LinkByIndex(i int) (netlink.Link, error) {
	if fl, ok := f.links[i]; ok {
		return f.link(fl), nil
	}
	return nil, unix.ENODEV // what netlink gets for a missing link
}

func (f *fakeNL) LinkList() ([]netlink.Link, error) {
	var out []netlink.Link
	for _, fl := range f.links {
		out = append(out, f.link(fl))
	}
	slices.SortFunc(out, func(x, y netlink.Link) int { return x.Attrs().Index - y.Attrs().Index })
	if f.interrupts > 0 {
		f.interrupts--
		return out[:len(out)/2], netlink.ErrDumpInterrupted
	}
	return out, nil
}
