package bond

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// given lists the keys of p's given parameters, in api.BondParamKeys order.
func given(p api.BondParams) []string {
	has := map[string]bool{
		"bonding_mode":      p.Mode != nil,
		"primary":           p.Primary != nil,
		"active_slave":      p.ActiveSlave != nil,
		"arp_interval":      p.ArpInterval != nil,
		"arp_ip_target":     p.ArpIPTarget != nil,
		"arp_validate":      p.ArpValidate != nil,
		"arp_missed_max":    p.ArpMissedMax != nil,
		"fail_over_mac":     p.FailOverMac != nil,
		"primary_reselect":  p.PrimaryReselect != nil,
		"num_grat_arp":      p.NumGratArp != nil,
		"peer_notif_delay":  p.PeerNotifDelay != nil,
		"miimon":            p.Miimon != nil,
		"updelay":           p.Updelay != nil,
		"downdelay":         p.Downdelay != nil,
		"all_slaves_active": p.AllSlavesActive != nil,
	}
	var out []string
	for _, k := range api.BondParamKeys {
		if has[k] {
			out = append(out, k)
		}
	}
	return out
}

// field is the key an error about p is reported on: p's one parameter, or
// "" when it has several.
func field(p api.BondParams) string {
	if g := given(p); len(g) == 1 {
		return g[0]
	}
	return ""
}

// checkKernel refuses what api.Check lets through but the kernel
// refuses: ARP validation sent together with MII monitoring. given is what
// is sent, eff what is in force afterwards.
func checkKernel(given, eff api.BondParams) error {
	if intOr(given.ArpValidate, 0) > 0 && intOr(eff.Miimon, 0) > 0 {
		return errkind.Invalid("arp_validate", "ARP validation needs ARP monitoring; it cannot be used with MII monitoring (miimon %d)", *eff.Miimon)
	}
	return nil
}

// checkRaw refuses a raw parameter the kernel does not report: it predates
// it and would ignore it silently.
func checkRaw(p api.BondParams, have rawValues) error {
	if p.ArpMissedMax != nil && have.missedMax == nil {
		return notSupported("arp_missed_max", "5.19")
	}
	if p.PeerNotifDelay != nil && have.peerNotifDelay == nil {
		return notSupported("peer_notif_delay", "5.3")
	}
	return nil
}

// modify sends one RTM_NEWLINK changing bond's parameters given in p, and
// nothing else (no txqlen: see bondFields). The bond is named, not indexed:
// netlink always sends IFLA_IFNAME, do_setlink treats it as a rename when
// ifi_index is set, and Linux 6.1 refuses a rename of an up device with
// EBUSY even to the same name. With ifi_index 0 the name is a lookup.
func (k *Kernel) modify(bond netlink.Link, p api.BondParams, index map[string]int) error {
	a := netlink.NewLinkAttrs()
	a.Name = bond.Attrs().Name
	b, err := bondFields(a, p, index)
	if err != nil {
		return err
	}
	if err := k.nl.LinkModify(b); err != nil {
		return fmt.Errorf("set %s: %w", strings.Join(given(p), ", "), kernelErr(field(p), err))
	}
	return nil
}

// setRaw sends the raw attributes of p, if it has any.
func (k *Kernel) setRaw(name string, p api.BondParams) error {
	attrs := rawAttrs(p)
	if len(attrs) == 0 {
		return nil
	}
	raw, err := k.rawLink()
	if err != nil {
		return err
	}
	if err := raw.SetBondData(name, attrs); err != nil {
		return fmt.Errorf("set %s: %w", strings.Join(given(p), ", "), kernelErr(field(p), err))
	}
	return nil
}

// enslave makes slave a slave of bond the way the kernel wants it: down
// first, then the master, then up (the kernel opens it too).
func (k *Kernel) enslave(slave, bond netlink.Link) error {
	name := slave.Attrs().Name
	if err := k.nl.LinkSetDown(slave); err != nil {
		return fmt.Errorf("set %s down: %w", name, err)
	}
	if err := k.nl.LinkSetMaster(slave, bond); err != nil {
		return fmt.Errorf("enslave %s: %w", name, kernelErr("", err))
	}
	if err := k.nl.LinkSetUp(slave); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// prefixNet converts the bond's address for netlink.Addr.
func prefixNet(p netip.Prefix) *net.IPNet {
	a := p.Addr().Unmap()
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}

// indexOf maps links' names to their ifindexes.
func indexOf(links []netlink.Link) map[string]int {
	m := make(map[string]int, len(links))
	for _, l := range links {
		m[l.Attrs().Name] = l.Attrs().Index
	}
	return m
}

// checkNames validates the bond's and the slaves' names.
func checkNames(name string, slaves []string) error {
	if err := api.CheckIfName("name", name); err != nil {
		return err
	}
	for i, s := range slaves {
		f := fmt.Sprintf("slaves[%d]", i)
		if err := api.CheckIfName(f, s); err != nil {
			return err
		}
		if s == name {
			return errkind.Invalid(f, "%s is the bond itself", s)
		}
		if slices.Index(slaves, s) != i {
			return errkind.Invalid(f, "%s is given twice", s)
		}
	}
	return nil
}
