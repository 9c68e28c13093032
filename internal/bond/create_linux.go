package bond

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// Create makes the bond in the order the kernel needs:
//
//  1. RTM_NEWLINK creating the bond, down and without slaves, with every
//     given parameter that has a netlink.Bond field (mode and fail_over_mac
//     can only be set now); a nil mode is active-backup;
//  2. the raw attributes (arp_missed_max, peer_notif_delay), once the bond
//     reports them (errkind.KindInvalid wrapping ErrNotSupported otherwise);
//  3. each slave in Spec order: down, master, up;
//  4. primary, now that it is a slave;
//  5. the address (replace), then the bond up;
//  6. active_slave, if given, which needs the bond up.
//
// On any error it releases the slaves it enslaved and deletes the bond.
// A bond or link of that name existing already is errkind.KindConflict, a
// missing slave errkind.KindNotFound, a slave with a master already
// errkind.KindConflict.
//
// A bond of ours (marked s.Mark) of that name that an earlier run left is
// taken over instead (see adopt); if that fails for another reason than
// the spec or a conflict, it is removed and made afresh.
func (k *Kernel) Create(ctx context.Context, s Spec) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.left(s) != nil {
		err := k.adopt(ctx, s)
		if err == nil {
			k.order[s.Name] = slices.Clone(s.Slaves)
			return nil
		}
		switch errkind.KindOf(err) {
		case errkind.KindConflict, errkind.KindInvalid, errkind.KindNotFound:
			return fmt.Errorf("take over bond %s: %w", s.Name, err)
		}
		k.log.Warn("cannot take over the bond an earlier run left: making it afresh", "bond", s.Name, "err", err)
		if err := k.remove(s.Name); err != nil {
			return fmt.Errorf("remove bond %s that could not be taken over: %w", s.Name, err)
		}
	}
	if err := k.create(ctx, s); err != nil {
		return fmt.Errorf("create bond %s: %w", s.Name, err)
	}
	k.order[s.Name] = slices.Clone(s.Slaves)
	k.log.Info("bond created", "bond", s.Name, "slaves", s.Slaves, "address", s.Address, "params", given(s.Params))
	return nil
}

func (k *Kernel) create(ctx context.Context, s Spec) (err error) {
	p, err := kernelParams(s)
	if err != nil {
		return err
	}
	send := sendable(p, p, nil)
	fields, raw, primary, active := stages(send)

	switch _, err := retryDump(func() (netlink.Link, error) { return k.nl.LinkByName(s.Name) }); {
	case err == nil:
		return errkind.Conflict("a link named %s exists already", s.Name)
	case !isNotFound(err):
		return fmt.Errorf("look up %s: %w", s.Name, err)
	}
	slaves := make([]netlink.Link, len(s.Slaves))
	for i, name := range s.Slaves {
		l, err := retryDump(func() (netlink.Link, error) { return k.nl.LinkByName(name) })
		if isNotFound(err) {
			return errkind.NotFound("slave %s does not exist", name)
		}
		if err != nil {
			return fmt.Errorf("look up slave %s: %w", name, err)
		}
		if m := l.Attrs().MasterIndex; m != 0 {
			return errkind.Conflict("slave %s has a master already (ifindex %d)", name, m)
		}
		slaves[i] = l
	}

	a := netlink.NewLinkAttrs()
	a.Name = s.Name
	bond, err := bondFields(a, fields, nil)
	if err != nil {
		return err
	}
	if err := k.nl.LinkAdd(bond); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("add bond link: %w", errkind.Unsupported(fmt.Errorf("%w: %w", ErrNotSupported, err),
				"this kernel has no bonding driver (load the bonding module, or use --bond-driver ebpf)"))
		}
		return fmt.Errorf("add bond link: %w", kernelErr(field(fields), err))
	}
	var enslaved []netlink.Link
	defer func() {
		if err != nil {
			k.rollback(bond, enslaved)
		}
	}()
	l, err := retryDump(func() (netlink.Link, error) { return k.nl.LinkByName(s.Name) })
	if err != nil {
		return fmt.Errorf("look up new bond: %w", err)
	}
	bond.Index = l.Attrs().Index
	if s.Mark != "" {
		if err := s.Mark.Set(k.nl, l); err != nil {
			return err
		}
	}

	if len(raw) > 0 {
		have, err := k.rawRead(s.Name, bond.Index)
		if err != nil {
			return err
		}
		if err := checkRaw(send, have); err != nil {
			return err
		}
		if err := k.setRaw(s.Name, send); err != nil {
			return err
		}
	}
	for _, sl := range slaves {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := k.enslave(sl, bond); err != nil {
			return err
		}
		enslaved = append(enslaved, sl)
	}
	index := indexOf(slaves)
	if primary != nil && *primary != "" {
		if err := k.modify(bond, api.BondParams{Primary: primary}, index); err != nil {
			return err
		}
	}
	if s.Address.IsValid() {
		addr := &netlink.Addr{IPNet: prefixNet(s.Address)}
		if err := k.nl.AddrReplace(bond, addr); err != nil {
			return fmt.Errorf("address %s: %w", s.Address, kernelErr("address", err))
		}
	}
	if err := k.nl.LinkSetUp(bond); err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	if active != nil && *active != "" {
		if err := k.modify(bond, api.BondParams{ActiveSlave: active}, index); err != nil {
			return err
		}
	}
	return nil
}

// rollback undoes a Create that failed half way: it releases the slaves it
// enslaved, newest first, and deletes the bond. It logs what it cannot undo.
func (k *Kernel) rollback(bond *netlink.Bond, enslaved []netlink.Link) {
	for i := len(enslaved) - 1; i >= 0; i-- {
		if err := k.nl.LinkSetNoMaster(enslaved[i]); err != nil {
			k.log.Warn("rollback: release slave", "bond", bond.Name, "slave", enslaved[i].Attrs().Name, "err", err)
		}
	}
	if err := k.nl.LinkDel(bond); err != nil {
		k.log.Warn("rollback: delete bond", "bond", bond.Name, "err", err)
	}
}

// kernelParams checks s's names and parameters as the kernel bond takes
// them (mode active-backup when s names none), for a create or an
// adoption.
func kernelParams(s Spec) (api.BondParams, error) {
	if err := checkNames(s.Name, s.Slaves); err != nil {
		return api.BondParams{}, err
	}
	p := s.Params.Merge(api.BondParams{})
	if p.Mode == nil {
		p.Mode = new(api.ModeActiveBackup)
	}
	if err := p.Check(s.Slaves); err != nil {
		return api.BondParams{}, err
	}
	if err := checkKernel(p, p); err != nil {
		return api.BondParams{}, err
	}
	return p, nil
}
