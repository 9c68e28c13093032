package bond

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"

	"github.com/multilink/multilink/api"
)

// Set applies the given parameters of p to the bond. It reads the bond's
// live parameters, merges p over them and validates the result against the
// bond's slaves (api.Check plus what the kernel refuses besides); an
// invalid p is fault.KindInvalid and changes nothing.
//
// Parameters are sent only if given, and mode and fail_over_mac only if
// they differ from the live value. Most go out in one RTM_NEWLINK (primary
// included: the kernel applies it after the monitoring settings), then the
// raw attributes, then active_slave. A change of mode or fail_over_mac
// takes the reconfigure cycle instead (see reconfigure). The kernel applies
// a message's attributes one by one, so a refused value can leave the ones
// before it applied; Info shows what is in force.
func (k *Kernel) Set(ctx context.Context, name string, p api.BondParams) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if p.AllSlavesActive != nil {
		k.dropGrace(name) // the operator's setting: a Switch's timer leaves it
	}
	if err := k.set(ctx, name, p); err != nil {
		return fmt.Errorf("set bond %s: %w", name, err)
	}
	return nil
}

func (k *Kernel) set(ctx context.Context, name string, p api.BondParams) error {
	st, err := k.read(name)
	if err != nil {
		return err
	}
	live := st.info.Params
	eff := effective(live, p)
	if err := eff.Check(st.info.Slaves); err != nil {
		return err
	}
	if err := checkKernel(p, eff); err != nil {
		return err
	}
	send := sendable(p, eff, &live)
	if err := checkRaw(send, st.raw); err != nil {
		return err
	}
	if empty(send) {
		return nil
	}
	if send.Mode != nil || send.FailOverMac != nil {
		return k.reconfigure(ctx, st, send, eff)
	}
	fields, _, primary, active := stages(send)
	fields.Primary = primary
	if !empty(fields) {
		if err := k.modify(st.bond, fields, st.index); err != nil {
			return err
		}
	}
	if err := k.setRaw(name, send); err != nil {
		return err
	}
	if active != nil {
		if err := k.modify(st.bond, api.BondParams{ActiveSlave: active}, st.index); err != nil {
			return err
		}
	}
	k.log.Info("bond parameters set", "bond", name, "params", given(send))
	return nil
}

// effective is what the bond's parameters are after p is applied to live:
// live without the active slave (the kernel's choice, not a setting) plus
// what the kernel changes by itself on a mode change (bond_option_mode_set:
// arp_validate back to none; for a mode without ARP monitoring
// arp_interval 0 and miimon 100 if it was 0), with p put over it. Options
// the resulting mode lacks (arp_missed_max, primary) are left out unless p
// gives them, so api.Check judges only what p asks for.
func effective(live, p api.BondParams) api.BondParams {
	base := live.Merge(api.BondParams{})
	base.ActiveSlave = nil
	if p.Mode != nil && live.Mode != nil && *p.Mode != *live.Mode {
		base.ArpValidate = new(0)
		if !api.ModeUsesARP(*p.Mode) {
			base.ArpInterval = new(0)
			if intOr(base.Miimon, 0) == 0 {
				base.Miimon = new(defaultMiimon)
			}
		}
	}
	eff := base.Merge(p)
	mode := modeOf(eff)
	if !api.ModeUsesARP(mode) && p.ArpMissedMax == nil {
		eff.ArpMissedMax = nil
	}
	if !api.ModeHasPrimary(mode) && p.Primary == nil {
		eff.Primary = nil
	}
	return eff
}

// reconfigure applies send, which changes mode or fail_over_mac. The kernel
// takes fail_over_mac only from a bond without slaves, and mode only from a
// bond without slaves that is down, so this is a bounded cycle, every step
// once:
//
//  1. the bond down (mode changes only: down flushes the routes through it);
//  2. every slave released (the kernel leaves them down);
//  3. one RTM_NEWLINK with every parameter sent, then the raw attributes;
//  4. the slaves enslaved again in their order (down, master, up): the
//     Spec's for a bond this Kernel created, else ifindex order;
//  5. primary sent again: the given one, or the one in force (restores it);
//  6. the bond up again if step 1 took it down;
//  7. active_slave: the given one; otherwise, with no primary to pin it,
//     the one active before, on a best-effort basis (the kernel takes it
//     only once the slave's link is up).
//
// If a step fails, it enslaves again what it released and brings the bond
// up again if it took it down, logging what fails there, and returns the
// first error.
func (k *Kernel) reconfigure(ctx context.Context, st *state, send, eff api.BondParams) (err error) {
	name, bond := st.info.Name, st.bond
	down := send.Mode != nil && st.info.Up
	k.log.Info("bond reconfigure cycle", "bond", name, "params", given(send), "slaves", st.info.Slaves, "down", down)
	var released []netlink.Link
	defer func() {
		if err != nil {
			k.recover(bond, released, down)
		}
	}()
	if down {
		if err := k.nl.LinkSetDown(bond); err != nil {
			return fmt.Errorf("set down: %w", err)
		}
	}
	for _, s := range st.slaves {
		if err := k.nl.LinkSetNoMaster(s); err != nil {
			return fmt.Errorf("release %s: %w", s.Attrs().Name, kernelErr("", err))
		}
		released = append(released, s)
	}
	fields, _, primary, active := stages(send)
	if err := k.modify(bond, fields, nil); err != nil {
		return err
	}
	if err := k.setRaw(name, send); err != nil {
		return err
	}
	for len(released) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := k.enslave(released[0], bond); err != nil {
			return err
		}
		released = released[1:]
	}
	if primary == nil && api.ModeHasPrimary(modeOf(eff)) && eff.Primary != nil && *eff.Primary != "" {
		primary = eff.Primary
	}
	if primary != nil {
		if err := k.modify(bond, api.BondParams{Primary: primary}, st.index); err != nil {
			return err
		}
	}
	if down {
		if err := k.nl.LinkSetUp(bond); err != nil {
			return fmt.Errorf("set up: %w", err)
		}
	}
	if active != nil {
		return k.modify(bond, api.BondParams{ActiveSlave: active}, st.index)
	}
	if was := st.info.Active; was != "" && api.ModeHasPrimary(modeOf(eff)) && (eff.Primary == nil || *eff.Primary == "") {
		if err := k.modify(bond, api.BondParams{ActiveSlave: &was}, st.index); err != nil {
			k.log.Warn("bond reconfigure: active slave not restored; the kernel chose one", "bond", name, "slave", was, "err", err)
		}
	}
	return nil
}

// recover puts back what a failed reconfigure cycle took apart: it
// enslaves the released slaves again and brings the bond up if the cycle
// took it down. It logs what fails.
func (k *Kernel) recover(bond netlink.Link, released []netlink.Link, up bool) {
	for _, s := range released {
		if err := k.enslave(s, bond); err != nil {
			k.log.Warn("bond reconfigure recovery: enslave", "bond", bond.Attrs().Name, "slave", s.Attrs().Name, "err", err)
		}
	}
	if up {
		if err := k.nl.LinkSetUp(bond); err != nil {
			k.log.Warn("bond reconfigure recovery: set up", "bond", bond.Attrs().Name, "err", err)
		}
	}
}
