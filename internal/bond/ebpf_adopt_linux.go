package bond

import (
	"context"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"

	"github.com/multilink/multilink/internal/bpf"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/tcattach"
)

// ours returns the devices of an eBPF bond an earlier run of ours left for
// s: the veth named s.Name and its hidden peer, both carrying s.Mark. nil:
// there is none (or it is not ours, or s has no mark).
func (e *EBPF) ours(s Spec) (dev, peer netlink.Link) {
	if s.Mark == "" {
		return nil, nil
	}
	dev, err := e.nl.LinkByName(s.Name)
	if err != nil || !s.Mark.Owns(dev.Attrs().Alias) {
		return nil, nil
	}
	if _, ok := dev.(*netlink.Veth); !ok {
		return nil, nil
	}
	peer, err = e.nl.LinkByName(peerName(s.Name))
	if err != nil || !s.Mark.Owns(peer.Attrs().Alias) {
		return nil, nil
	}
	if pi := dev.Attrs().ParentIndex; pi != 0 && pi != peer.Attrs().Index {
		return nil, nil
	}
	return dev, peer
}

// adopt takes over the bond whose devices b has, as an earlier run left
// it: the active link in the bonds map stays (its grace too: it is in the
// map, on the same clock); only what is missing or stale is written: the
// address, the counters, member entries (a member made again has another
// ifindex), the state when its active link is not a member. The programs
// are put in place with tcattach, which takes over pinned links and our
// legacy filters without a moment with no program. e.mu is held.
func (e *EBPF) adopt(b *ebond) error {
	s := b.spec
	if err := e.readdress(b); err != nil {
		return err
	}
	key := uint32(b.peer.Attrs().Index)
	var per []bpf.BondBondCounters
	switch err := e.obj.Counters.Lookup(key, &per); {
	case errors.Is(err, ebpf.ErrKeyNotExist):
		ncpu, err := ebpf.PossibleCPU()
		if err != nil {
			return fmt.Errorf("count cpus: %w", err)
		}
		if err := e.obj.Counters.Put(key, make([]bpf.BondBondCounters, ncpu)); err != nil {
			return fmt.Errorf("create bond counters: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read bond counters: %w", err)
	}
	if err := e.fixMembers(b, key); err != nil {
		return err
	}
	active := ""
	var st bpf.BondBondState
	switch err := e.obj.Bonds.Lookup(key, &st); {
	case err == nil:
		for n, idx := range b.members {
			if uint32(idx) == st.Active {
				active = n
			}
		}
	case !errors.Is(err, ebpf.ErrKeyNotExist):
		return fmt.Errorf("read bond state: %w", err)
	}
	if active == "" {
		active = s.Slaves[0]
		if p := s.Params.Primary; p != nil && *p != "" {
			active = *p
		}
		if err := e.obj.Bonds.Put(key, bpf.BondBondState{Active: uint32(b.members[active])}); err != nil {
			return fmt.Errorf("write bond state: %w", err)
		}
		e.log.Warn("the eBPF bond left had no usable state: its primary is active", "bond", s.Name, "active", active)
	}
	if err := e.attach(b); err != nil {
		return err
	}
	if dir := e.linkDir(); dir != "" {
		if n, err := tcattach.PruneDefunct(dir); err != nil {
			return err
		} else if n > 0 {
			e.log.Info("unpinned the eBPF bond links of devices that are gone", "bond", s.Name, "links", n)
		}
	}
	for _, l := range []netlink.Link{b.peer, b.dev} {
		if err := e.nl.LinkSetUp(l); err != nil {
			return fmt.Errorf("set %s up: %w", l.Attrs().Name, err)
		}
	}
	if b.spec.Params.Primary != nil {
		b.spec.Params.Primary = &active // the engine steered it there
	}
	e.bonds[s.Name] = b
	e.log.Info("bond adopted", "bond", s.Name, "driver", DriverEBPF, "slaves", s.Slaves, "active", active,
		"address", s.Address, "attach", b.atts[0].Mode())
	return nil
}

// readdress puts the spec's address on the bond and removes other IPv4
// addresses (an address changed while no daemon ran).
func (e *EBPF) readdress(b *ebond) error {
	want := prefixNet(b.spec.Address)
	if err := e.nl.AddrReplace(b.dev, &netlink.Addr{IPNet: want}); err != nil {
		return fmt.Errorf("address %s on %s: %w", b.spec.Address, b.spec.Name, err)
	}
	addrs, err := e.nl.AddrList(b.dev, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", b.spec.Name, err)
	}
	for _, a := range addrs {
		if a.IPNet.String() == want.String() {
			continue
		}
		if err := e.nl.AddrDel(b.dev, &a); err != nil {
			return fmt.Errorf("remove old address %s from %s: %w", a.IPNet, b.spec.Name, err)
		}
		e.log.Info("removed the bond's old address", "bond", b.spec.Name, "address", a.IPNet.String())
	}
	return nil
}

// fixMembers makes the members map say exactly b's members for the bond
// keyed key: missing or stale entries written, entries of devices no
// longer members (or gone) removed.
func (e *EBPF) fixMembers(b *ebond, key uint32) error {
	is := map[uint32]bool{}
	for _, idx := range b.members {
		is[uint32(idx)] = true
	}
	var stale []uint32
	var k uint32
	var m bpf.BondMember
	it := e.obj.Members.Iterate()
	for it.Next(&k, &m) {
		if m.Peer == key && !is[k] {
			stale = append(stale, k)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read bond members: %w", err)
	}
	for _, k := range stale {
		if err := e.obj.Members.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("delete stale member: %w", err)
		}
	}
	for name, idx := range b.members {
		err := e.obj.Members.Lookup(uint32(idx), &m)
		if err == nil && m.Peer == key {
			continue
		}
		if err := e.obj.Members.Put(uint32(idx), bpf.BondMember{Peer: key}); err != nil {
			return fmt.Errorf("write member %s: %w", name, err)
		}
	}
	return nil
}

// Left reports whether an eBPF bond of ours that an earlier run left is
// there for s (the veth named s.Name and its peer, marked s.Mark).
func (e *EBPF) Left(ctx context.Context, s Spec) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	dev, _ := e.ours(s)
	return dev != nil
}

// Discard removes the eBPF bond of ours an earlier run left for s, if there
// is one: its programs on the members (taken over, then detached and
// unpinned), its map entries and its devices.
func (e *EBPF) Discard(ctx context.Context, s Spec) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	dev, peer := e.ours(s)
	if dev == nil {
		return nil
	}
	if _, ok := e.bonds[s.Name]; ok {
		return errkind.Conflict("bond %s is in use", s.Name)
	}
	if err := e.load(); err != nil {
		return err
	}
	b := &ebond{spec: s, dev: dev, peer: peer, members: map[string]int{}}
	present := b.spec
	present.Slaves = nil
	for _, n := range s.Slaves {
		if l, err := e.nl.LinkByName(n); err == nil {
			b.members[n] = l.Attrs().Index
			present.Slaves = append(present.Slaves, n)
		}
	}
	b.spec = present
	attachErr := e.attach(b)
	if err := errors.Join(attachErr, e.remove(b)); err != nil {
		return fmt.Errorf("remove eBPF bond %s an earlier run left: %w", s.Name, err)
	}
	e.log.Info("removed the eBPF bond an earlier run left", "bond", s.Name)
	return nil
}
