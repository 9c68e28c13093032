package bond

import (
	"encoding/binary"
	"fmt"
	"net"
	"reflect"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"

	"github.com/multilink/multilink/api"
)

// defaultMiimon is BOND_DEFAULT_MIIMON, which the kernel sets itself when
// a mode without ARP monitoring is chosen while miimon is 0.
const defaultMiimon = 100

func intOr(v *int, def int) int {
	if v == nil {
		return def
	}
	return *v
}

// sendable returns the parameters of p that are sent to the kernel, given
// eff (the parameters in force afterwards) and live (those in force now;
// nil for a bond being created). It drops what the kernel would refuse
// although it changes nothing:
//   - mode and fail_over_mac equal to the live value (both are refused
//     while the bond has slaves, even unchanged);
//   - updelay, downdelay and peer_notif_delay of 0 without MII monitoring
//     (refused with EPERM, and read back as 0 anyway);
//   - primary and active_slave in a mode without them (only "" gets here:
//     api.Check refuses a name; the kernel refuses the option).
func sendable(p, eff api.BondParams, live *api.BondParams) api.BondParams {
	s := p.Merge(api.BondParams{})
	if live != nil {
		if s.Mode != nil && live.Mode != nil && *s.Mode == *live.Mode {
			s.Mode = nil
		}
		if s.FailOverMac != nil && live.FailOverMac != nil && *s.FailOverMac == *live.FailOverMac {
			s.FailOverMac = nil
		}
	}
	if intOr(eff.Miimon, 0) == 0 {
		for _, d := range []**int{&s.Updelay, &s.Downdelay, &s.PeerNotifDelay} {
			if *d != nil && **d == 0 {
				*d = nil
			}
		}
	}
	if !api.ModeHasPrimary(modeOf(eff)) {
		s.Primary, s.ActiveSlave = nil, nil
	}
	return s
}

// stages splits the parameters to send into what goes out in the bond's
// link message (netlink.Bond fields), the raw attributes, the primary and
// the active slave, which the driver sends at different moments.
func stages(s api.BondParams) (fields api.BondParams, raw []Attr, primary, active *string) {
	fields = s.Merge(api.BondParams{})
	fields.Primary, fields.ActiveSlave = nil, nil
	fields.ArpMissedMax, fields.PeerNotifDelay = nil, nil
	return fields, rawAttrs(s), s.Primary, s.ActiveSlave
}

// empty reports whether p gives no parameter (an empty, non-nil target
// list is given: it clears).
func empty(p api.BondParams) bool { return reflect.DeepEqual(p, api.BondParams{}) }

// bondFields returns the netlink.Bond that sends exactly p's given
// parameters that have a netlink.Bond field: NewLinkBond sets every field to
// -1 (and targets to nil), which netlink does not send. primary and
// active_slave go as ifindexes (0, for "", clears them); index resolves
// the names.
func bondFields(attrs netlink.LinkAttrs, p api.BondParams, index map[string]int) (*netlink.Bond, error) {
	b := netlink.NewLinkBond(attrs)
	set := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	if p.Mode != nil {
		b.Mode = netlink.BondMode(*p.Mode)
	}
	set(&b.Miimon, p.Miimon)
	set(&b.UpDelay, p.Updelay)
	set(&b.DownDelay, p.Downdelay)
	set(&b.ArpInterval, p.ArpInterval)
	if p.ArpIPTarget != nil {
		b.ArpIpTargets = make([]net.IP, 0, len(p.ArpIPTarget)) // empty, not nil: clears
		for _, a := range p.ArpIPTarget {
			b.ArpIpTargets = append(b.ArpIpTargets, net.IP(a.AsSlice()))
		}
	}
	if p.ArpValidate != nil {
		b.ArpValidate = netlink.BondArpValidate(*p.ArpValidate)
	}
	if p.PrimaryReselect != nil {
		b.PrimaryReselect = netlink.BondPrimaryReselect(*p.PrimaryReselect)
	}
	if p.FailOverMac != nil {
		b.FailOverMac = netlink.BondFailOverMac(*p.FailOverMac)
	}
	set(&b.NumPeerNotif, p.NumGratArp)
	set(&b.AllSlavesActive, p.AllSlavesActive)
	for _, s := range []struct {
		key  string
		name *string
		dst  *int
	}{{"primary", p.Primary, &b.Primary}, {"active_slave", p.ActiveSlave, &b.ActiveSlave}} {
		if s.name == nil {
			continue
		}
		if *s.name == "" {
			*s.dst = 0
			continue
		}
		i, ok := index[*s.name]
		if !ok {
			return nil, fmt.Errorf("%s: no ifindex for %q", s.key, *s.name)
		}
		*s.dst = i
	}
	return b, nil
}

// rawAttrs encodes p's given parameters that netlink.Bond lacks.
func rawAttrs(p api.BondParams) []Attr {
	var out []Attr
	if p.PeerNotifDelay != nil {
		out = append(out, Attr{Type: attrPeerNotifDelay, Value: nl.Uint32Attr(uint32(*p.PeerNotifDelay))})
	}
	if p.ArpMissedMax != nil {
		out = append(out, Attr{Type: attrMissedMax, Value: nl.Uint8Attr(uint8(*p.ArpMissedMax))})
	}
	return out
}

// rawValues is what the kernel reported of the raw attributes; a nil field
// was not reported: the kernel predates the option.
type rawValues struct {
	missedMax      *int
	peerNotifDelay *int
}

func parseRaw(data []Attr) (rawValues, error) {
	var v rawValues
	for _, a := range data {
		switch a.Type {
		case attrMissedMax:
			if len(a.Value) < 1 {
				return v, fmt.Errorf("IFLA_BOND_MISSED_MAX of %d bytes", len(a.Value))
			}
			v.missedMax = new(int(a.Value[0]))
		case attrPeerNotifDelay:
			if len(a.Value) < 4 {
				return v, fmt.Errorf("IFLA_BOND_PEER_NOTIF_DELAY of %d bytes", len(a.Value))
			}
			v.peerNotifDelay = new(int(binary.NativeEndian.Uint32(a.Value)))
		}
	}
	return v, nil
}
