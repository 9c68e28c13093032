package gateway

import (
	"context"
	"net/netip"
	"strings"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/bond"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
)

// bondDriver is the world's bond.Driver. It keeps every parameter of a
// bond as the kernel reports it, and acts like bond.Kernel over the
// kernel's bonding driver where bond_params depend on it: Set merges p
// over the live parameters with what the kernel changes by itself,
// validates the result and changes nothing if it is refused; Create
// validates as Kernel.Create does, and both refuse an option the mode
// lacks, as the kernel does even when it is 0.
type bondDriver struct{ w *world }

// fresh is what the kernel reports of a new bond.
func fresh() api.BondParams {
	zero := func() *int { return testsupport.Ptr(0) }
	return api.BondParams{Mode: zero(), Primary: testsupport.Ptr(""), ArpInterval: zero(), ArpIPTarget: []netip.Addr{},
		ArpValidate: zero(), ArpMissedMax: testsupport.Ptr(2), FailOverMac: zero(), PrimaryReselect: zero(),
		NumGratArp: testsupport.Ptr(1), PeerNotifDelay: zero(), Miimon: zero(), Updelay: zero(), Downdelay: zero(),
		AllSlavesActive: zero()}
}

// refused is what the kernel refuses besides api.Check: an option the
// mode lacks (EACCES) and ARP validation with MII monitoring.
func refused(given, eff api.BondParams) error {
	if !api.ModeUsesARP(*eff.Mode) && (given.ArpInterval != nil || given.ArpValidate != nil || given.ArpMissedMax != nil) {
		return errkind.Invalid("bonding_mode", "fake kernel: ARP monitoring options in mode %d (EACCES)", *eff.Mode)
	}
	if given.ArpValidate != nil && *given.ArpValidate > 0 && *eff.Miimon > 0 {
		return errkind.Invalid("arp_validate", "fake kernel: ARP validation with MII monitoring")
	}
	return nil
}

func (b bondDriver) Create(_ context.Context, s bond.Spec) error {
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	if err := b.w.Do("bond " + s.Name + " " + strings.Join(s.Slaves, ",")); err != nil {
		return err
	}
	if err := s.Params.Check(s.Slaves); err != nil {
		return err
	}
	// A bond created without a mode is active-backup, as Check judges it.
	live := fresh().Merge(api.BondParams{Mode: testsupport.Ptr(api.ModeActiveBackup)}).Merge(s.Params)
	live.ActiveSlave = nil
	if err := refused(s.Params, live); err != nil {
		return err
	}
	s.Params = live
	b.w.bonds[s.Name] = s
	return nil
}

func (b bondDriver) Delete(_ context.Context, name string) error {
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	delete(b.w.bonds, name)
	return b.w.Do("bond del " + name)
}

func (b bondDriver) Info(_ context.Context, name string) (api.BondInfo, error) {
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	s, ok := b.w.bonds[name]
	if !ok {
		return api.BondInfo{}, errkind.NotFound("bond %s", name)
	}
	active := ""
	if api.ModeHasPrimary(*s.Params.Mode) {
		active = s.Slaves[0]
		if *s.Params.Primary != "" {
			active = *s.Params.Primary
		}
	}
	p := s.Params.Merge(api.BondParams{ActiveSlave: &active})
	return api.BondInfo{Name: name, Driver: "fake", Up: true, Slaves: s.Slaves, Active: active, Params: p}, nil
}

func (b bondDriver) Set(_ context.Context, name string, p api.BondParams) error {
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	s, ok := b.w.bonds[name]
	if !ok {
		return errkind.NotFound("bond %s", name)
	}
	live := s.Params
	next := live.Merge(api.BondParams{})
	if p.Mode != nil && *p.Mode != *live.Mode {
		// bond_option_mode_set, and the slaves released and enslaved again.
		next.ArpValidate = testsupport.Ptr(0)
		if !api.ModeUsesARP(*p.Mode) {
			next.ArpInterval = testsupport.Ptr(0)
			if *next.Miimon == 0 {
				next.Miimon = testsupport.Ptr(100)
			}
		}
		if !api.ModeHasPrimary(*p.Mode) {
			next.Primary = testsupport.Ptr("")
		}
	}
	if p.Miimon != nil && *p.Miimon > 0 && *live.ArpInterval > 0 {
		// bond_option_miimon_set turns ARP monitoring off.
		next.ArpInterval, next.ArpValidate = testsupport.Ptr(0), testsupport.Ptr(0)
	}
	next = next.Merge(p)
	// Judged as Kernel.Set judges: the options the mode lacks only if given.
	eff := next.Merge(api.BondParams{})
	if !api.ModeUsesARP(*eff.Mode) && p.ArpMissedMax == nil {
		eff.ArpMissedMax = nil
	}
	if !api.ModeHasPrimary(*eff.Mode) && p.Primary == nil {
		eff.Primary = nil
	}
	if err := eff.Check(s.Slaves); err != nil {
		return err
	}
	if err := refused(p, next); err != nil {
		return err
	}
	next.ActiveSlave = nil
	s.Params = next
	b.w.bonds[name] = s
	return b.w.Do("bond set " + name)
}
