package bond

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"slices"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// maxGraceWait bounds how long Release waits for pending switch graces.
const maxGraceWait = 5 * time.Second

// left returns the kernel bond of ours (marked s.Mark) named s.Name that
// an earlier run left, or nil. k.mu is held.
func (k *Kernel) left(s Spec) *netlink.Bond {
	if s.Mark == "" {
		return nil
	}
	l, err := retryDump(func() (netlink.Link, error) { return k.nl.LinkByName(s.Name) })
	if err != nil || !s.Mark.Owns(l.Attrs().Alias) {
		return nil
	}
	b, _ := l.(*netlink.Bond)
	return b
}

// adopt takes over the bond an earlier run left for s, changing only what
// differs from s: the parameters s gives whose live value differs (never
// primary or active_slave: the failover engine steers those, and the
// active slave stays the kernel's), slaves of s that are missing
// (enslaved in s's order), the address, the bond up. A slave that s does
// not name is errkind.KindConflict, and nothing changes. k.mu is held.
func (k *Kernel) adopt(ctx context.Context, s Spec) error {
	p, err := kernelParams(s)
	if err != nil {
		return err
	}
	st, err := k.read(s.Name)
	if err != nil {
		return err
	}
	for _, n := range st.info.Slaves {
		if !slices.Contains(s.Slaves, n) {
			return errkind.Conflict("bond %s has slave %s, which is not one of %v", s.Name, n, s.Slaves)
		}
	}
	var missing []netlink.Link
	for _, n := range s.Slaves {
		if slices.Contains(st.info.Slaves, n) {
			continue
		}
		l, err := retryDump(func() (netlink.Link, error) { return k.nl.LinkByName(n) })
		if isNotFound(err) {
			return errkind.NotFound("slave %s does not exist", n)
		}
		if err != nil {
			return fmt.Errorf("look up slave %s: %w", n, err)
		}
		if m := l.Attrs().MasterIndex; m != 0 {
			return errkind.Conflict("slave %s has a master already (ifindex %d)", n, m)
		}
		missing = append(missing, l)
	}
	diff := differs(p, st.info.Params)
	if !empty(diff) {
		k.log.Info("bond parameters changed while no daemon ran", "bond", s.Name, "params", given(diff))
		if err := k.set(ctx, s.Name, diff); err != nil {
			return err
		}
	}
	for _, l := range missing {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := k.enslave(l, st.bond); err != nil {
			return err
		}
	}
	if s.Address.IsValid() {
		if err := k.nl.AddrReplace(st.bond, &netlink.Addr{IPNet: prefixNet(s.Address)}); err != nil {
			return fmt.Errorf("address %s: %w", s.Address, kernelErr("address", err))
		}
	}
	if st.bond.Flags&net.FlagUp == 0 {
		if err := k.nl.LinkSetUp(st.bond); err != nil {
			return fmt.Errorf("set up: %w", err)
		}
	}
	var added []string
	for _, l := range missing {
		added = append(added, l.Attrs().Name)
	}
	k.log.Info("bond adopted", "bond", s.Name, "driver", DriverKernel, "slaves", s.Slaves, "active", st.info.Active,
		"enslaved", added, "address", s.Address)
	return nil
}

// differs is the parameters want gives whose value differs from live,
// primary and active_slave left out.
func differs(want, live api.BondParams) api.BondParams {
	var out api.BondParams
	w, l, o := reflect.ValueOf(want), reflect.ValueOf(live), reflect.ValueOf(&out).Elem()
	for i := range w.NumField() {
		switch w.Type().Field(i).Name {
		case "Primary", "ActiveSlave":
			continue
		}
		f := w.Field(i)
		if f.IsNil() {
			continue
		}
		lf := l.Field(i)
		if f.Kind() == reflect.Pointer && !lf.IsNil() && reflect.DeepEqual(f.Elem().Interface(), lf.Elem().Interface()) {
			continue
		}
		if f.Kind() == reflect.Slice && !lf.IsNil() && reflect.DeepEqual(f.Interface(), lf.Interface()) {
			continue
		}
		o.Field(i).Set(f)
	}
	return out
}

// Release forgets every bond and changes nothing in the kernel: the bonds
// keep running as they are. A pending switch grace is waited for (at most
// maxGraceWait, or until ctx ends), so all_slaves_active is put back; past
// that it is put back at once. The raw socket Kernel opened is closed.
func (k *Kernel) Release(ctx context.Context) error {
	deadline := time.Now().Add(maxGraceWait)
	for {
		k.mu.Lock()
		var last time.Time
		for _, g := range k.grace {
			if g.until.After(last) {
				last = g.until
			}
		}
		if last.IsZero() {
			break
		}
		k.mu.Unlock()
		wait := min(time.Until(last)+5*time.Millisecond, time.Until(deadline))
		if wait <= 0 || ctx.Err() != nil {
			k.mu.Lock()
			for name, g := range k.grace {
				k.endGraceLocked(name, g.gen)
			}
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	defer k.mu.Unlock()
	clear(k.order)
	if k.own != nil {
		k.own.Close()
		k.own, k.raw = nil, nil
	}
	return nil
}

// Left reports whether a kernel bond of ours that an earlier run left is
// there for s (named s.Name, marked s.Mark).
func (k *Kernel) Left(ctx context.Context, s Spec) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.left(s) != nil
}

// Discard removes the kernel bond of ours an earlier run left for s, if
// there is one (its slaves are released).
func (k *Kernel) Discard(ctx context.Context, s Spec) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.left(s) == nil {
		return nil
	}
	if err := k.remove(s.Name); err != nil {
		return fmt.Errorf("remove bond %s an earlier run left: %w", s.Name, err)
	}
	return nil
}
