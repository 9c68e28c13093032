package bond

import (
	"context"
	"fmt"
	"time"

	"github.com/multilink/multilink/api"
)

// Steadier is a Driver whose bonds run a link monitor of their own that a
// caller can make patient for a while (Kernel: the ARP monitor).
type Steadier interface {
	// Steady makes the bond's own monitor take a link for dead only after
	// at least patience of silence, until release is called; release puts
	// the operator's setting back unless it was changed meanwhile. For a
	// bond without such a monitor both do nothing.
	Steady(ctx context.Context, name string, patience time.Duration) (release func(), err error)
}

var (
	_ Steadier = (*Kernel)(nil)
	_ Steadier = (*Chooser)(nil)
)

// maxMissed is the largest arp_missed_max (a u8 in netlink).
const maxMissed = 255

// Steady raises the bond's arp_missed_max to cover patience at its
// arp_interval. While a link restarts (a rotation renews it) the bond
// holds one link fewer: the ARP monitor must not drop the one that
// carries the traffic for a late reply (the lab's emulated CPUs stall for
// a few hundred ms when an OpenVPN starts; CI saw "now running without
// any active interface" for 220 ms). multilink's engine, which probes
// every link itself, still leaves a dead link within its dead time. A bond
// that monitors by MII, or not at all, or a kernel without
// arp_missed_max (before 5.19), is left as it is.
func (k *Kernel) Steady(ctx context.Context, name string, patience time.Duration) (func(), error) {
	nothing := func() {}
	k.mu.Lock()
	defer k.mu.Unlock()
	st, err := k.read(name)
	if err != nil {
		return nothing, fmt.Errorf("steady bond %s: %w", name, err)
	}
	p := st.info.Params
	interval := intOr(p.ArpInterval, 0)
	if interval <= 0 || st.raw.missedMax == nil {
		return nothing, nil
	}
	had := intOr(p.ArpMissedMax, defaultMissedMax)
	want := min(maxMissed, int((patience+time.Duration(interval)*time.Millisecond-1)/(time.Duration(interval)*time.Millisecond)))
	if want <= had {
		return nothing, nil
	}
	if err := k.set(ctx, name, api.BondParams{ArpMissedMax: &want}); err != nil {
		return nothing, fmt.Errorf("steady bond %s: arp_missed_max %d: %w", name, want, err)
	}
	k.log.Info("bond's ARP monitor made patient for a rotation", "bond", name, "arp_missed_max", want, "was", had)
	return func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		st, err := k.read(name)
		if err != nil || intOr(st.info.Params.ArpMissedMax, defaultMissedMax) != want {
			return // gone, or the operator set it meanwhile
		}
		if err := k.set(context.WithoutCancel(ctx), name, api.BondParams{ArpMissedMax: &had}); err != nil {
			k.log.Warn("bond's arp_missed_max not put back after a rotation", "bond", name, "arp_missed_max", had, "err", err)
			return
		}
		k.log.Info("bond's ARP monitor back to its setting", "bond", name, "arp_missed_max", had)
	}, nil
}

// Steady makes a bond this Chooser created patient, through its driver.
func (c *Chooser) Steady(ctx context.Context, name string, patience time.Duration) (func(), error) {
	d, err := c.driverOf(name)
	if err != nil {
		return func() {}, err
	}
	if s, ok := d.(Steadier); ok {
		return s.Steady(ctx, name, patience)
	}
	return func() {}, nil
}
