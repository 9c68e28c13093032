package bond

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/bpf"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/nsthread"
	"github.com/multilink/multilink/internal/tcattach"
)

// DriverEBPF is Info.Driver for bonds of the eBPF data path.
const DriverEBPF = "ebpf"

// Legacy filter name and priority: after the probe (priority 1) on a TAP.
const (
	ebpfFilter   = "multilink_bond"
	ebpfPriority = 10
)

// EBPF is the Driver on tc programs (bpf/bond.c), for kernels without the
// bonding driver: the bond is one end of a veth pair, its hidden peer's
// ingress goes to the active TAP, the active TAP's ingress comes back,
// other members' ingress is dropped. It is active-backup only; Set stores
// and reports every parameter, but only primary and active_slave act:
// both make that link active at once (one map write). Failover itself is
// the failover engine's: there is no ARP or MII monitor in this path.
type EBPF struct {
	nl     *netlink.Handle
	ns     netns.NsHandle // the handle's namespace, for TCX attaching; not open: the caller's
	mode   string         // tc attach mode
	pinDir string         // on a bpffs: maps and TCX links pinned under it; "": none
	log    *slog.Logger

	mu    sync.Mutex
	obj   *bpf.BondObjects // loaded at the first Create
	bonds map[string]*ebond
}

var _ Driver = (*EBPF)(nil)

// ebond is one eBPF bond.
type ebond struct {
	spec    Spec
	dev     netlink.Link // holds the address
	peer    netlink.Link // hidden end
	members map[string]int
	atts    []*tcattach.Attachment
}

// NewEBPF returns the eBPF driver working through nl, in namespace ns (not
// open: the caller's), attaching in tc mode (tcattach.Auto, tcattach.TCX,
// tcattach.Legacy). pinDir, a directory on a bpffs, keeps the bonds beyond
// the process: the maps are pinned under pinDir/maps, the TCX links under
// pinDir/links, and Create takes over a bond an earlier run left; "" pins
// nothing.
func NewEBPF(nl *netlink.Handle, ns netns.NsHandle, mode string, pinDir string, log *slog.Logger) (*EBPF, error) {
	if err := tcattach.CheckMode(mode); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &EBPF{nl: nl, ns: ns, mode: mode, pinDir: pinDir, log: log, bonds: map[string]*ebond{}}, nil
}

// peerName is the hidden end's name: "mlb" and 8 hex digits of the bond's
// name, so it fits IFNAMSIZ whatever the bond's name.
func peerName(bond string) string {
	h := fnv.New32a()
	h.Write([]byte(bond))
	return fmt.Sprintf("mlb%08x", h.Sum32())
}

// Create makes the bond: the veth pair, the address, the programs, the
// primary (else the first slave) active. On error it removes what it made.
// A bond of ours (marked with s.Mark) of that name that an earlier run
// left is taken over instead, its active link kept (see adopt); if that
// fails it is removed and made afresh.
func (e *EBPF) Create(ctx context.Context, s Spec) error {
	if err := e.createOrAdopt(s); err != nil {
		return fmt.Errorf("create bond %s: %w", s.Name, err)
	}
	return nil
}

func (e *EBPF) createOrAdopt(s Spec) error {
	if err := checkNames(s.Name, s.Slaves); err != nil {
		return err
	}
	if err := s.Params.Check(s.Slaves); err != nil {
		return err
	}
	if m := s.Params.Mode; m != nil && *m != api.ModeActiveBackup {
		return errkind.Invalid("bonding_mode", "the eBPF bond is active-backup only (mode 1), not %s", api.ModeNames[*m])
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.bonds[s.Name]; ok {
		return errkind.Conflict("bond %s exists already", s.Name)
	}
	if err := e.load(); err != nil {
		return err
	}
	b := &ebond{spec: s, members: map[string]int{}}
	for _, name := range s.Slaves {
		l, err := e.nl.LinkByName(name)
		if err != nil {
			return errkind.NotFound("slave %s: %v", name, err)
		}
		if l.Attrs().MasterIndex != 0 {
			return errkind.Conflict("slave %s has a master already", name)
		}
		if other := e.owner(name); other != "" {
			return errkind.Conflict("slave %s is a member of eBPF bond %s already", name, other)
		}
		b.members[name] = l.Attrs().Index
	}
	if dev, peer := e.ours(s); dev != nil {
		b.dev, b.peer = dev, peer
		err := e.adopt(b)
		if err == nil {
			return nil
		}
		e.log.Warn("cannot take over the eBPF bond an earlier run left: making it afresh", "bond", s.Name, "err", err)
		if err := e.remove(b); err != nil {
			return fmt.Errorf("remove the bond that could not be taken over: %w", err)
		}
		b = &ebond{spec: s, members: b.members}
	}
	return e.create(b)
}

func (e *EBPF) create(b *ebond) (err error) {
	s := b.spec
	defer func() {
		if err != nil {
			e.remove(b)
		}
	}()
	if err := e.makeDevice(b); err != nil {
		return err
	}
	active := s.Slaves[0]
	if p := s.Params.Primary; p != nil && *p != "" {
		active = *p
	}
	key := uint32(b.peer.Attrs().Index)
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return fmt.Errorf("count cpus: %w", err)
	}
	if err := e.obj.Counters.Put(key, make([]bpf.BondBondCounters, ncpu)); err != nil {
		return fmt.Errorf("create bond counters: %w", err)
	}
	if err := e.obj.Bonds.Put(key, bpf.BondBondState{Active: uint32(b.members[active])}); err != nil {
		return fmt.Errorf("write bond state: %w", err)
	}
	for _, name := range s.Slaves {
		if err := e.obj.Members.Put(uint32(b.members[name]), bpf.BondMember{Peer: key}); err != nil {
			return fmt.Errorf("write member %s: %w", name, err)
		}
	}
	if err := e.attach(b); err != nil {
		return err
	}
	for _, l := range []netlink.Link{b.peer, b.dev} {
		if err := e.nl.LinkSetUp(l); err != nil {
			return fmt.Errorf("set %s up: %w", l.Attrs().Name, err)
		}
	}
	e.bonds[s.Name] = b
	e.log.Info("bond created", "bond", s.Name, "driver", DriverEBPF, "slaves", s.Slaves, "active", active,
		"address", s.Address, "attach", b.atts[0].Mode())
	return nil
}

// makeDevice creates the veth pair and gives the bond its address.
func (e *EBPF) makeDevice(b *ebond) error {
	name := b.spec.Name
	if _, err := e.nl.LinkByName(name); err == nil {
		return errkind.Conflict("interface %s exists already", name)
	}
	if _, err := e.nl.LinkByName(peerName(name)); err == nil {
		return errkind.Conflict("interface %s (the eBPF bond's hidden end) exists already", peerName(name))
	}
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peerName(name)}
	if err := e.nl.LinkAdd(v); err != nil {
		return fmt.Errorf("add veth %s: %w", name, kernelErr("", err))
	}
	var err error
	if b.dev, err = e.nl.LinkByName(name); err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if b.peer, err = e.nl.LinkByName(peerName(name)); err != nil {
		return fmt.Errorf("find %s: %w", peerName(name), err)
	}
	if m := b.spec.Mark; m != "" {
		for _, l := range []netlink.Link{b.dev, b.peer} {
			if err := m.Set(e.nl, l); err != nil {
				return err
			}
		}
	}
	if err := e.nl.AddrReplace(b.dev, &netlink.Addr{IPNet: prefixNet(b.spec.Address)}); err != nil {
		return fmt.Errorf("address %s on %s: %w", b.spec.Address, name, err)
	}
	return nil
}

// attach puts bond_out on the peer's ingress and bond_in on each member's
// ingress, after the probe.
func (e *EBPF) attach(b *ebond) error {
	type target struct {
		index int
		prog  *ebpf.Program
	}
	targets := []target{{b.peer.Attrs().Index, e.obj.BondOut}}
	for _, name := range b.spec.Slaves {
		targets = append(targets, target{b.members[name], e.obj.BondIn})
	}
	return nsthread.In(e.ns, func() error {
		for _, t := range targets {
			a, err := tcattach.Attach(e.nl, t.index, []tcattach.Program{{Prog: t.prog, Ingress: true}},
				tcattach.Options{Mode: e.mode, Name: ebpfFilter, Priority: ebpfPriority, PinDir: e.linkDir()})
			if err != nil {
				return err
			}
			b.atts = append(b.atts, a)
		}
		return nil
	})
}

// remove undoes what Create made, as far as it got.
func (e *EBPF) remove(b *ebond) error {
	var errs []error
	for _, a := range b.atts {
		if err := a.Detach(); err != nil {
			errs = append(errs, err)
		}
	}
	b.atts = nil
	for _, idx := range b.members {
		if err := e.obj.Members.Delete(uint32(idx)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			errs = append(errs, fmt.Errorf("delete member: %w", err))
		}
	}
	if b.peer != nil {
		for _, m := range []*ebpf.Map{e.obj.Bonds, e.obj.Counters} {
			if err := m.Delete(uint32(b.peer.Attrs().Index)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				errs = append(errs, fmt.Errorf("delete bond state: %w", err))
			}
		}
	}
	if b.dev != nil {
		if err := e.nl.LinkDel(b.dev); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", b.spec.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Delete removes the bond; its members stay as they are.
func (e *EBPF) Delete(ctx context.Context, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.bonds[name]
	if !ok {
		return errkind.NotFound("no eBPF bond %s", name)
	}
	delete(e.bonds, name)
	if err := e.remove(b); err != nil {
		return fmt.Errorf("delete bond %s: %w", name, err)
	}
	if len(e.bonds) == 0 {
		if err := e.unpinAll(); err != nil {
			return fmt.Errorf("delete bond %s: %w", name, err)
		}
	}
	e.log.Info("bond deleted", "bond", name, "driver", DriverEBPF)
	return nil
}

// Info reports the bond: its stored parameters with the live active link.
func (e *EBPF) Info(ctx context.Context, name string) (api.BondInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.bonds[name]
	if !ok {
		return api.BondInfo{}, errkind.NotFound("no eBPF bond %s", name)
	}
	var st bpf.BondBondState
	if err := e.obj.Bonds.Lookup(uint32(b.peer.Attrs().Index), &st); err != nil {
		return api.BondInfo{}, fmt.Errorf("read bond %s: %w", name, err)
	}
	info := api.BondInfo{Name: name, Driver: DriverEBPF, Slaves: slices.Clone(b.spec.Slaves), Params: b.spec.Params.Merge(api.BondParams{})}
	if l, err := e.nl.LinkByName(name); err == nil {
		info.Up = l.Attrs().Flags&net.FlagUp != 0
	}
	for n, idx := range b.members {
		if uint32(idx) == st.Active {
			info.Active = n
		}
	}
	info.Params.ActiveSlave = &info.Active
	return info, nil
}

// Set validates p against the bond and stores it; primary and
// active_slave make that link active at once.
func (e *EBPF) Set(ctx context.Context, name string, p api.BondParams) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.bonds[name]
	if !ok {
		return errkind.NotFound("no eBPF bond %s", name)
	}
	eff := b.spec.Params.Merge(p)
	eff.ActiveSlave = nil
	if err := eff.Check(b.spec.Slaves); err != nil {
		return err
	}
	if m := eff.Mode; m != nil && *m != api.ModeActiveBackup {
		return errkind.Invalid("bonding_mode", "the eBPF bond is active-backup only (mode 1), not %s", api.ModeNames[*m])
	}
	to := ""
	for _, v := range []*string{p.Primary, p.ActiveSlave} {
		if v != nil && *v != "" {
			to = *v
		}
	}
	if v := p.ActiveSlave; v != nil && *v != "" {
		if _, ok := b.members[*v]; !ok {
			return errkind.Invalid("active_slave", "%s is not a slave of %s", *v, name)
		}
	}
	if to != "" {
		if err := e.switchTo(b, to, 0); err != nil {
			return err
		}
	}
	b.spec.Params = eff
	return nil
}

// Switch makes to the bond's active link at once and, for grace, still
// takes the frames that arrive on the link active until now: replies in
// flight on the old path, before the hub follows the switch. The stored
// primary follows (as the kernel bond's does when it is steered). The
// duplicate link (SetDuplicate) stays, unless it is to: then it is
// cleared.
func (e *EBPF) Switch(ctx context.Context, name, to string, grace time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.bonds[name]
	if !ok {
		return errkind.NotFound("no eBPF bond %s", name)
	}
	if _, ok := b.members[to]; !ok {
		return errkind.Invalid("primary", "%s is not a slave of %s", to, name)
	}
	if err := e.switchTo(b, to, grace); err != nil {
		return err
	}
	b.spec.Params.Primary = &to
	return nil
}

// switchTo writes the bond's new state; e.mu is held.
// owner names the eBPF bond that has slave as a member, or "".
func (e *EBPF) owner(slave string) string {
	for n, b := range e.bonds {
		if _, ok := b.members[slave]; ok {
			return n
		}
	}
	return ""
}

func (e *EBPF) switchTo(b *ebond, to string, grace time.Duration) error {
	key := uint32(b.peer.Attrs().Index)
	var st bpf.BondBondState
	if err := e.obj.Bonds.Lookup(key, &st); err != nil {
		return fmt.Errorf("read bond %s: %w", b.spec.Name, err)
	}
	idx, ok := b.members[to]
	if !ok {
		return errkind.Invalid("primary", "%s is not a slave of %s", to, b.spec.Name)
	}
	next := uint32(idx)
	if next == st.Active {
		return nil
	}
	dup := st.Dup // kept unless it becomes the active one: then the engine has decided
	if dup == next {
		dup = 0
	}
	st = bpf.BondBondState{Active: next, Prev: st.Active, Dup: dup}
	if grace > 0 {
		now, err := monotonicNs()
		if err != nil {
			return err
		}
		st.PrevUntilNs = now + uint64(grace)
	}
	// One write: the next frame in either direction takes the new link.
	if err := e.obj.Bonds.Update(key, st, ebpf.UpdateExist); err != nil {
		return fmt.Errorf("switch bond %s to %s: %w", b.spec.Name, to, err)
	}
	return nil
}

// monotonicNs is CLOCK_MONOTONIC in ns: bpf_ktime_get_ns's clock.
func monotonicNs() (uint64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, fmt.Errorf("read the clock: %w", err)
	}
	return uint64(ts.Nano()), nil
}

// Close unloads the programs once every bond is deleted.
func (e *EBPF) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.bonds) > 0 || e.obj == nil {
		return nil
	}
	err := e.obj.Close()
	e.obj = nil
	return err
}
