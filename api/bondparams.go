package api

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"

	"github.com/multilink/multilink/internal/errkind"
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

// intParam is one integer parameter: its key, where it lives, its range
// and, for an option with kernel names, the names (number = index).
type intParam struct {
	key      string
	ptr      func(p *BondParams) **int
	min, max int
	names    []string
}

// intParams are the integer parameters with the kernel's ranges.
var intParams = []intParam{
	{"bonding_mode", func(p *BondParams) **int { return &p.Mode }, 0, len(ModeNames) - 1, ModeNames},
	{"arp_interval", func(p *BondParams) **int { return &p.ArpInterval }, 0, maxMillis, nil},
	{"arp_validate", func(p *BondParams) **int { return &p.ArpValidate }, 0, len(ArpValidateNames) - 1, ArpValidateNames},
	{"arp_missed_max", func(p *BondParams) **int { return &p.ArpMissedMax }, 1, 255, nil},
	{"fail_over_mac", func(p *BondParams) **int { return &p.FailOverMac }, 0, len(FailOverMacNames) - 1, FailOverMacNames},
	{"primary_reselect", func(p *BondParams) **int { return &p.PrimaryReselect }, 0, len(PrimaryReselectNames) - 1, PrimaryReselectNames},
	{"num_grat_arp", func(p *BondParams) **int { return &p.NumGratArp }, 0, 255, nil},
	{"peer_notif_delay", func(p *BondParams) **int { return &p.PeerNotifDelay }, 0, maxMillis, nil},
	{"miimon", func(p *BondParams) **int { return &p.Miimon }, 0, maxMillis, nil},
	{"updelay", func(p *BondParams) **int { return &p.Updelay }, 0, maxMillis, nil},
	{"downdelay", func(p *BondParams) **int { return &p.Downdelay }, 0, maxMillis, nil},
	{"all_slaves_active", func(p *BondParams) **int { return &p.AllSlavesActive }, 0, 1, nil},
}

// UnmarshalJSON decodes and range-checks every given parameter.
func (p *BondParams) UnmarshalJSON(data []byte) error {
	var out BondParams
	fields := map[string]field{
		"primary":       slaveField(&out.Primary),
		"active_slave":  slaveField(&out.ActiveSlave),
		"arp_ip_target": func(raw json.RawMessage) (err error) { out.ArpIPTarget, err = decodeTargets(raw); return },
	}
	for _, ip := range intParams {
		dst := ip.ptr(&out)
		fields[ip.key] = func(raw json.RawMessage) error {
			var n int
			var err error
			if ip.names != nil {
				n, err = decodeEnum(raw, ip.names)
			} else {
				n, err = decodeInt(raw, ip.min, ip.max)
			}
			if err != nil {
				return err
			}
			*dst = &n
			return nil
		}
	}
	if err := decodeObject(data, "", fields, bondAliases); err != nil {
		return err
	}
	*p = out
	return nil
}

// slaveField decodes a slave's name; "" is allowed and clears.
func slaveField(dst **string) field {
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

// MarshalJSON writes every given parameter with numeric values, in the
// shape UnmarshalJSON reads back.
func (p BondParams) MarshalJSON() ([]byte, error) {
	type plain BondParams
	var targets []string // nil: not given; empty: given, none (clears)
	if p.ArpIPTarget != nil {
		targets = make([]string, len(p.ArpIPTarget))
		for i, a := range p.ArpIPTarget {
			targets[i] = a.String()
		}
	}
	return json.Marshal(struct {
		plain
		ArpIPTarget []string `json:"arp_ip_target,omitzero"`
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
			return 0, errkind.Invalid("", "%d is out of range 0..%d (%s)", n, len(names)-1, strings.Join(names, ", "))
		}
		return n, nil
	}
	for i, name := range names {
		if strings.EqualFold(s, name) {
			return i, nil
		}
	}
	return 0, errkind.Invalid("", "%q is not one of %s (or 0..%d)", s, strings.Join(names, ", "), len(names)-1)
}

// decodeTargets accepts "a", "a,b" or ["a", "b"]; "" or [] clears.
func decodeTargets(raw json.RawMessage) ([]netip.Addr, error) {
	if isNull(raw) {
		return nil, errkind.Invalid("", `must be an IPv4 address, a comma-separated list or an array of them, not null ("" or [] clears)`)
	}
	var list []string
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		for _, s := range strings.Split(one, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errkind.Invalid("", "must be an IPv4 address, a comma-separated list or an array of them")
	}
	if len(list) > MaxArpTargets {
		return nil, errkind.Invalid("", "%d targets given, the kernel takes at most %d", len(list), MaxArpTargets)
	}
	out := make([]netip.Addr, 0, len(list))
	seen := map[netip.Addr]bool{}
	for _, s := range list {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || !unicast4(a) {
			return nil, errkind.Invalid("", "%q is not a unicast IPv4 address", s)
		}
		if seen[a] {
			return nil, errkind.Invalid("", "%s is given twice", a)
		}
		seen[a] = true
		out = append(out, a)
	}
	return out, nil
}

// Merge returns p with every parameter given in q put over it; the result
// shares no memory with p or q. An empty, non-nil ArpIPTarget in q is given:
// it clears the targets.
func (p BondParams) Merge(q BondParams) BondParams {
	var r BondParams
	for _, src := range []*BondParams{&p, &q} {
		for _, ip := range intParams {
			if v := *ip.ptr(src); v != nil {
				n := *v
				*ip.ptr(&r) = &n
			}
		}
		if src.Primary != nil {
			s := *src.Primary
			r.Primary = &s
		}
		if src.ActiveSlave != nil {
			s := *src.ActiveSlave
			r.ActiveSlave = &s
		}
		if src.ArpIPTarget != nil {
			r.ArpIPTarget = append([]netip.Addr{}, src.ArpIPTarget...)
		}
	}
	return r
}

// Check validates the combination of parameters p would give a bond whose
// slaves are slaves. It is called on the merged, effective set; a nil mode
// is active-backup.
func (p BondParams) Check(slaves []string) error { return p.check(slaves, true) }

// check is Check; needTargets false lets ARP monitoring go without targets
// for now (a client start fills them in from the hub's bridge address).
func (p BondParams) check(slaves []string, needTargets bool) error {
	for _, ip := range intParams {
		if v := *ip.ptr(&p); v != nil && (*v < ip.min || *v > ip.max) {
			return errkind.Invalid(ip.key, "%d is out of range %d..%d", *v, ip.min, ip.max)
		}
	}
	if err := checkTargets(p.ArpIPTarget); err != nil {
		return prefix("arp_ip_target", err)
	}
	has := func(name string) bool {
		for _, s := range slaves {
			if s == name {
				return true
			}
		}
		return false
	}
	if p.Primary != nil && *p.Primary != "" && !has(*p.Primary) {
		return errkind.Invalid("primary", "%q is not a slave of this bond (slaves: %s)", *p.Primary, strings.Join(slaves, ", "))
	}
	if p.ActiveSlave != nil && *p.ActiveSlave != "" && !has(*p.ActiveSlave) {
		return errkind.Invalid("active_slave", "%q is not a slave of this bond (slaves: %s)", *p.ActiveSlave, strings.Join(slaves, ", "))
	}
	mode := ModeActiveBackup
	if p.Mode != nil {
		mode = *p.Mode
	}
	pos := func(v *int) bool { return v != nil && *v > 0 }
	arp, mii := pos(p.ArpInterval), pos(p.Miimon)
	if arp && mii {
		return errkind.Invalid("arp_interval", "ARP monitoring and MII monitoring (miimon) cannot be used together; set one of them to 0")
	}
	if !ModeUsesARP(mode) {
		// The kernel refuses these options in 802.3ad, balance-tlb and balance-alb.
		switch {
		case arp:
			return errkind.Invalid("arp_interval", "ARP monitoring does not work in mode %s; use miimon", ModeNames[mode])
		case pos(p.ArpValidate):
			return errkind.Invalid("arp_validate", "ARP validation does not work in mode %s", ModeNames[mode])
		case p.ArpMissedMax != nil:
			return errkind.Invalid("arp_missed_max", "does not apply in mode %s (no ARP monitoring)", ModeNames[mode])
		}
	}
	if arp && needTargets && len(p.ArpIPTarget) == 0 {
		return errkind.Invalid("arp_ip_target", "ARP monitoring (arp_interval %d) needs at least one arp_ip_target", *p.ArpInterval)
	}
	// The kernel keeps these delays as multiples of miimon and refuses
	// them while MII monitoring is off (ARP monitoring turns it off).
	for _, d := range []struct {
		key string
		v   *int
	}{{"updelay", p.Updelay}, {"downdelay", p.Downdelay}, {"peer_notif_delay", p.PeerNotifDelay}} {
		if pos(d.v) && (arp || p.Miimon != nil && *p.Miimon == 0) {
			return errkind.Invalid(d.key, "needs MII monitoring (miimon > 0, arp_interval 0)")
		}
	}
	if p.ActiveSlave != nil && *p.ActiveSlave != "" && !ModeHasPrimary(mode) {
		return errkind.Invalid("active_slave", "only active-backup, balance-tlb and balance-alb have an active slave, not %s", ModeNames[mode])
	}
	if p.Primary != nil && *p.Primary != "" && !ModeHasPrimary(mode) {
		return errkind.Invalid("primary", "only active-backup, balance-tlb and balance-alb have a primary, not %s", ModeNames[mode])
	}
	return nil
}

// checkTargets validates a target list built in code as decodeTargets
// validates one read from JSON.
func checkTargets(targets []netip.Addr) error {
	if len(targets) > MaxArpTargets {
		return errkind.Invalid("", "%d targets given, the kernel takes at most %d", len(targets), MaxArpTargets)
	}
	seen := map[netip.Addr]bool{}
	for i, a := range targets {
		if !unicast4(a) {
			return errkind.Invalid(index(i), "%s is not a unicast IPv4 address", a)
		}
		if seen[a] {
			return errkind.Invalid(index(i), "%s is given twice", a)
		}
		seen[a] = true
	}
	return nil
}

// ModeUsesARP reports whether bonding mode can do ARP monitoring (all but
// 802.3ad, balance-tlb and balance-alb): the kernel refuses arp_interval,
// arp_validate and arp_missed_max in the others. It is the one statement
// of that rule: Check, the bond drivers and their fakes ask it.
func ModeUsesARP(mode int) bool { return mode != Mode8023AD && mode != ModeTLB && mode != ModeALB }

// ModeHasPrimary reports whether bonding mode has a primary and an active
// slave (active-backup, balance-tlb and balance-alb): the kernel refuses
// both options in the others. It is the one statement of that rule: Check,
// the bond drivers and their fakes ask it.
func ModeHasPrimary(mode int) bool {
	return mode == ModeActiveBackup || mode == ModeTLB || mode == ModeALB
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

// startDefaults are the Defaults that fit what given sets, so a client start
// that picks another mode or MII monitoring is not refused for a default
// it did not ask for: ARP monitoring (arp_interval, arp_validate) only
// where the mode has it and miimon is not given, and the first TAP as
// primary where the mode has a primary.
func startDefaults(given BondParams, tapPrefix string) BondParams {
	d := Defaults()
	mode := *d.Mode
	if given.Mode != nil {
		mode = *given.Mode
	}
	if !ModeUsesARP(mode) || given.Miimon != nil && *given.Miimon > 0 {
		d.ArpInterval, d.ArpValidate = nil, nil
	}
	if ModeHasPrimary(mode) {
		first := tapPrefix + "1"
		d.Primary = &first
	}
	return d
}
