package config

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"

	"github.com/multilink/multilink/fault"
)

// Bonding modes, option tables and limits as the kernel's bonding driver
// defines them (Documentation/networking/bonding.rst).
var (
	ModeNames            = []string{"balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"}
	ArpValidateNames     = []string{"none", "active", "backup", "all", "filter", "filter_active", "filter_backup"}
	FailOverMacNames     = []string{"none", "active", "follow"}
	PrimaryReselectNames = []string{"always", "better", "failure"}
)

// Mode numbers used by the rules below.
const (
	ModeActiveBackup = 1
	Mode8023AD       = 4
	ModeTLB          = 5
	ModeALB          = 6
	// MaxArpTargets is BOND_MAX_ARP_TARGETS.
	MaxArpTargets = 16
	maxMillis     = 1<<31 - 1
)

// BondParams is a set of bonding parameters. A nil field is "not given":
// PUT bond_params changes only the given ones. Times are milliseconds.
type BondParams struct {
	Mode            *int         `json:"bonding_mode,omitempty"`
	Primary         *string      `json:"primary,omitempty"`
	ActiveSlave     *string      `json:"active_slave,omitempty"`
	ArpInterval     *int         `json:"arp_interval,omitempty"`
	ArpIPTarget     []netip.Addr `json:"arp_ip_target,omitempty"`
	ArpValidate     *int         `json:"arp_validate,omitempty"`
	ArpMissedMax    *int         `json:"arp_missed_max,omitempty"`
	FailOverMac     *int         `json:"fail_over_mac,omitempty"`
	PrimaryReselect *int         `json:"primary_reselect,omitempty"`
	NumGratArp      *int         `json:"num_grat_arp,omitempty"`
	PeerNotifDelay  *int         `json:"peer_notif_delay,omitempty"`
	Miimon          *int         `json:"miimon,omitempty"`
	Updelay         *int         `json:"updelay,omitempty"`
	Downdelay       *int         `json:"downdelay,omitempty"`
	AllSlavesActive *int         `json:"all_slaves_active,omitempty"`
}

// bondAliases maps other accepted spellings to the canonical key.
var bondAliases = map[string]string{
	"mode":           "bonding_mode",
	"num_unsol_na":   "num_grat_arp",
	"num_peer_notif": "num_grat_arp",
	"arp_ip_targets": "arp_ip_target",
}

// BondParamKeys lists the canonical parameter names, in a stable order.
var BondParamKeys = []string{
	"bonding_mode", "primary", "active_slave", "arp_interval", "arp_ip_target",
	"arp_validate", "arp_missed_max", "fail_over_mac", "primary_reselect",
	"num_grat_arp", "peer_notif_delay", "miimon", "updelay", "downdelay",
	"all_slaves_active",
}

// UnmarshalJSON decodes and range-checks every given parameter.
func (p *BondParams) UnmarshalJSON(data []byte) error {
	var out BondParams
	intp := func(dst **int, min, max int) field {
		return func(raw json.RawMessage) error {
			n, err := decodeInt(raw, min, max)
			*dst = &n
			return err
		}
	}
	enum := func(dst **int, names []string) field {
		return func(raw json.RawMessage) error {
			n, err := decodeEnum(raw, names)
			*dst = &n
			return err
		}
	}
	slave := func(dst **string) field {
		return func(raw json.RawMessage) error {
			s, err := decodeString(raw)
			if err != nil {
				return err
			}
			s = strings.TrimSpace(s)
			if s != "" {
				if err := CheckIfName("", s); err != nil {
					return err
				}
			}
			*dst = &s
			return nil
		}
	}
	fields := map[string]field{
		"bonding_mode":      enum(&out.Mode, ModeNames),
		"primary":           slave(&out.Primary),
		"active_slave":      slave(&out.ActiveSlave),
		"arp_interval":      intp(&out.ArpInterval, 0, maxMillis),
		"arp_ip_target":     func(raw json.RawMessage) error { t, err := decodeTargets(raw); out.ArpIPTarget = t; return err },
		"arp_validate":      enum(&out.ArpValidate, ArpValidateNames),
		"arp_missed_max":    intp(&out.ArpMissedMax, 1, 255),
		"fail_over_mac":     enum(&out.FailOverMac, FailOverMacNames),
		"primary_reselect":  enum(&out.PrimaryReselect, PrimaryReselectNames),
		"num_grat_arp":      intp(&out.NumGratArp, 0, 255),
		"peer_notif_delay":  intp(&out.PeerNotifDelay, 0, maxMillis),
		"miimon":            intp(&out.Miimon, 0, maxMillis),
		"updelay":           intp(&out.Updelay, 0, maxMillis),
		"downdelay":         intp(&out.Downdelay, 0, maxMillis),
		"all_slaves_active": intp(&out.AllSlavesActive, 0, 1),
	}
	if err := decodeObject(data, "", fields, bondAliases); err != nil {
		return err
	}
	*p = out
	return nil
}

// MarshalJSON writes every given parameter with numeric values, in the
// shape UnmarshalJSON reads back.
func (p BondParams) MarshalJSON() ([]byte, error) {
	type plain BondParams
	targets := make([]string, len(p.ArpIPTarget))
	for i, a := range p.ArpIPTarget {
		targets[i] = a.String()
	}
	return json.Marshal(struct {
		plain
		ArpIPTarget []string `json:"arp_ip_target,omitempty"`
	}{plain(p), targets})
}

// decodeEnum accepts an option's number or its kernel name.
func decodeEnum(raw json.RawMessage, names []string) (int, error) {
	s, err := decodeFlex(raw)
	if err != nil {
		return 0, err
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n >= len(names) {
			return 0, fault.Invalid("", "%d is out of range 0..%d (%s)", n, len(names)-1, strings.Join(names, ", "))
		}
		return n, nil
	}
	for i, name := range names {
		if strings.EqualFold(s, name) {
			return i, nil
		}
	}
	return 0, fault.Invalid("", "%q is not one of %s (or 0..%d)", s, strings.Join(names, ", "), len(names)-1)
}

// decodeTargets accepts "a", "a,b" or ["a", "b"]; "" or [] clears.
func decodeTargets(raw json.RawMessage) ([]netip.Addr, error) {
	var list []string
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		for _, s := range strings.Split(one, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fault.Invalid("", "must be an IPv4 address, a comma-separated list or an array of them")
	}
	if len(list) > MaxArpTargets {
		return nil, fault.Invalid("", "%d targets given, the kernel takes at most %d", len(list), MaxArpTargets)
	}
	out := make([]netip.Addr, 0, len(list))
	seen := map[netip.Addr]bool{}
	for _, s := range list {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || !unicast4(a) {
			return nil, fault.Invalid("", "%q is not a unicast IPv4 address", s)
		}
		if seen[a] {
			return nil, fault.Invalid("", "%s is given twice", a)
		}
		seen[a] = true
		out = append(out, a)
	}
	return out, nil
}

// Merge returns p with every parameter given in q put over it.
func (p BondParams) Merge(q BondParams) BondParams {
	r := p
	set := func(dst **int, src *int) {
		if src != nil {
			v := *src
			*dst = &v
		}
	}
	sets := func(dst **string, src *string) {
		if src != nil {
			v := *src
			*dst = &v
		}
	}
	set(&r.Mode, q.Mode)
	sets(&r.Primary, q.Primary)
	sets(&r.ActiveSlave, q.ActiveSlave)
	set(&r.ArpInterval, q.ArpInterval)
	if q.ArpIPTarget != nil {
		r.ArpIPTarget = append([]netip.Addr(nil), q.ArpIPTarget...)
	}
	set(&r.ArpValidate, q.ArpValidate)
	set(&r.ArpMissedMax, q.ArpMissedMax)
	set(&r.FailOverMac, q.FailOverMac)
	set(&r.PrimaryReselect, q.PrimaryReselect)
	set(&r.NumGratArp, q.NumGratArp)
	set(&r.PeerNotifDelay, q.PeerNotifDelay)
	set(&r.Miimon, q.Miimon)
	set(&r.Updelay, q.Updelay)
	set(&r.Downdelay, q.Downdelay)
	set(&r.AllSlavesActive, q.AllSlavesActive)
	return r
}

// Check validates the combination of parameters p would give a bond whose
// slaves are slaves. It is called on the merged, effective set.
func (p BondParams) Check(slaves []string) error { return p.check(slaves, true) }

// check is Check; needTargets false lets ARP monitoring go without targets
// for now (a client start fills them in from the hub's bridge address).
func (p BondParams) check(slaves []string, needTargets bool) error {
	has := func(name string) bool {
		for _, s := range slaves {
			if s == name {
				return true
			}
		}
		return false
	}
	if p.Primary != nil && *p.Primary != "" && !has(*p.Primary) {
		return fault.Invalid("primary", "%q is not a slave of this bond (slaves: %s)", *p.Primary, strings.Join(slaves, ", "))
	}
	if p.ActiveSlave != nil && *p.ActiveSlave != "" && !has(*p.ActiveSlave) {
		return fault.Invalid("active_slave", "%q is not a slave of this bond (slaves: %s)", *p.ActiveSlave, strings.Join(slaves, ", "))
	}
	mode := ModeActiveBackup
	if p.Mode != nil {
		mode = *p.Mode
	}
	arp := p.ArpInterval != nil && *p.ArpInterval > 0
	mii := p.Miimon != nil && *p.Miimon > 0
	if arp && mii {
		return fault.Invalid("arp_interval", "ARP monitoring and MII monitoring (miimon) cannot be used together; set one of them to 0")
	}
	if arp && (mode == Mode8023AD || mode == ModeTLB || mode == ModeALB) {
		return fault.Invalid("arp_interval", "ARP monitoring does not work in mode %s", ModeNames[mode])
	}
	if arp && needTargets && len(p.ArpIPTarget) == 0 {
		return fault.Invalid("arp_ip_target", "ARP monitoring (arp_interval %d) needs at least one arp_ip_target", *p.ArpInterval)
	}
	if p.ActiveSlave != nil && *p.ActiveSlave != "" && mode != ModeActiveBackup && mode != ModeTLB && mode != ModeALB {
		return fault.Invalid("active_slave", "only active-backup, balance-tlb and balance-alb have an active slave, not %s", ModeNames[mode])
	}
	if p.Primary != nil && *p.Primary != "" && mode != ModeActiveBackup && mode != ModeTLB && mode != ModeALB {
		return fault.Invalid("primary", "only active-backup, balance-tlb and balance-alb have a primary, not %s", ModeNames[mode])
	}
	return nil
}

// Defaults are the spec's bonding settings (its helm values), used for every
// parameter a client start does not give.
func Defaults() BondParams {
	i := func(v int) *int { return &v }
	return BondParams{
		Mode:        i(ModeActiveBackup),
		ArpInterval: i(100),
		ArpValidate: i(5),
		FailOverMac: i(1),
	}
}
