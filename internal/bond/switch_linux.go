package bond

import (
	"context"
	"fmt"
	"time"

	"github.com/multilink/multilink/api"
)

// Switcher is a Driver that can move a bond's traffic with a grace on the
// link it leaves (Kernel, EBPF and Chooser are).
type Switcher interface {
	// Switch makes to the bond's active link at once, and for grace still
	// delivers the frames that arrive on the others: replies in flight on
	// the old path when the bond switched, before the hub follows it.
	Switch(ctx context.Context, name, to string, grace time.Duration) error
}

var (
	_ Switcher = (*Kernel)(nil)
	_ Switcher = (*EBPF)(nil)
	_ Switcher = (*Chooser)(nil)
)

// Switch sets the bond's primary (the kernel switches to it at once, and
// its own ARP monitor then agrees) and, for grace, has the bond deliver the
// frames its other slaves receive (all_slaves_active 1), then puts
// all_slaves_active back. A Switch during another's grace extends it. A
// bond whose all_slaves_active is 1 already, or that the operator changes
// meanwhile, is left as it is.
func (k *Kernel) Switch(ctx context.Context, name, to string, grace time.Duration) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	st, err := k.read(name)
	if err != nil {
		return fmt.Errorf("switch bond %s: %w", name, err)
	}
	_, pending := k.grace[name]
	if grace > 0 && (pending || intOr(st.info.Params.AllSlavesActive, 0) == 0) {
		if !pending {
			if err := k.set(ctx, name, api.BondParams{AllSlavesActive: new(1)}); err != nil {
				return fmt.Errorf("switch bond %s: open the other slaves: %w", name, err)
			}
		}
		k.dropGrace(name)
		k.graceGen++
		gen := k.graceGen
		k.grace[name] = pendingGrace{gen: gen, until: time.Now().Add(grace), timer: time.AfterFunc(grace, func() { k.endGrace(name, gen) })}
	}
	if err := k.set(ctx, name, api.BondParams{Primary: &to}); err != nil {
		return fmt.Errorf("switch bond %s to %s: %w", name, to, err)
	}
	return nil
}

// endGrace puts all_slaves_active back to 0 unless it changed since.
func (k *Kernel) endGrace(name string, gen uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.endGraceLocked(name, gen)
}

// endGraceLocked is endGrace with k.mu held.
func (k *Kernel) endGraceLocked(name string, gen uint64) {
	if g, ok := k.grace[name]; !ok || g.gen != gen {
		return
	}
	k.grace[name].timer.Stop()
	delete(k.grace, name)
	if err := k.set(context.Background(), name, api.BondParams{AllSlavesActive: new(0)}); err != nil {
		k.log.Debug("bond switch grace: all_slaves_active not put back (bond gone?)", "bond", name, "err", err)
	}
}

// dropGrace forgets the bond's pending grace: its timer will not touch
// all_slaves_active. k.mu must be held.
func (k *Kernel) dropGrace(name string) {
	if g, ok := k.grace[name]; ok {
		g.timer.Stop()
		delete(k.grace, name)
	}
}

// Switch moves a bond this Chooser created, through its driver.
func (c *Chooser) Switch(ctx context.Context, name, to string, grace time.Duration) error {
	d, err := c.driverOf(name)
	if err != nil {
		return err
	}
	if s, ok := d.(Switcher); ok {
		return s.Switch(ctx, name, to, grace)
	}
	return d.Set(ctx, name, api.BondParams{Primary: &to})
}
