package bond

import "github.com/multilink/multilink/api"

// defaultMissedMax is BOND_DEFAULT_MISSED_MAX: what arp_missed_max is on a
// new bond, and what kernels before 5.19 use without the option.
const defaultMissedMax = 2

// Desired returns the parameters that make Create recreate the bond as
// Info has it (what a restart needs): Params, every one read back live,
//   - without active_slave: the kernel's choice, not a setting;
//   - without the options the mode lacks: ARP monitoring's (arp_interval,
//     arp_validate, arp_missed_max) in 802.3ad, balance-tlb and
//     balance-alb, and primary outside active-backup, balance-tlb and
//     balance-alb. api.BondParams.Check refuses them, and the kernel refuses them
//     at creation even when they are 0 (EACCES);
//   - without arp_missed_max and peer_notif_delay where they have a new
//     bond's values (2 and 0): a kernel that predates them reports them
//     so, and Create refuses them there.
func Desired(i api.BondInfo) api.BondParams {
	p := i.Params.Merge(api.BondParams{})
	p.ActiveSlave = nil
	mode := modeOf(p)
	if !api.ModeUsesARP(mode) {
		p.ArpInterval, p.ArpValidate, p.ArpMissedMax = nil, nil, nil
	}
	if !api.ModeHasPrimary(mode) {
		p.Primary = nil
	}
	if p.ArpMissedMax != nil && *p.ArpMissedMax == defaultMissedMax {
		p.ArpMissedMax = nil
	}
	if p.PeerNotifDelay != nil && *p.PeerNotifDelay == 0 {
		p.PeerNotifDelay = nil
	}
	return p
}

// modeOf is p's mode; a nil mode is active-backup, as api.BondParams.Check has it.
func modeOf(p api.BondParams) int {
	if p.Mode == nil {
		return api.ModeActiveBackup
	}
	return *p.Mode
}
