package bond

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// DriverKernel is Info.Driver for bonds of the kernel's bonding driver.
const DriverKernel = "kernel"

// Kernel is the Driver on the kernel's bonding driver, through netlink.
// Its methods may be called concurrently; they run one at a time.
type Kernel struct {
	mu  sync.Mutex
	nl  Netlink
	raw Raw
	own *rawSocket // the raw socket Kernel opened itself, if any
	log *slog.Logger
	// order is each created bond's Spec.Slaves: the kernel lists slaves by
	// ifindex only, so Info and the reconfigure cycle use the Spec's order
	// for the bonds this Kernel made (others, and after a restart: ifindex).
	order map[string][]string
	// grace is, per bond, the Switch whose timer will put
	// all_slaves_active back; graceGen numbers them (never reused, so a
	// timer that fires late for a deleted bond matches no new one).
	grace    map[string]pendingGrace
	graceGen uint64
}

// pendingGrace is a Switch's grace in progress.
type pendingGrace struct {
	gen   uint64
	timer *time.Timer
	until time.Time
}

var _ Driver = (*Kernel)(nil)

// NewKernel returns the kernel driver talking through nl. When nl is also
// a Raw (a *Handle or a test fake) the raw bond attributes go through it;
// otherwise Kernel opens a route socket of its own, on first use, in the
// namespace of the thread that uses it, which is right for a handle from
// netlink.NewHandle in the process's namespace. A handle for another
// namespace must come with its Raw: use NewHandleAt. Info checks that both
// see the same bond (same ifindex) and fails otherwise.
func NewKernel(nl Netlink, log *slog.Logger) *Kernel {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	k := &Kernel{nl: nl, log: log, order: map[string][]string{}, grace: map[string]pendingGrace{}}
	if r, ok := nl.(Raw); ok {
		k.raw = r
	}
	return k
}

// Close closes the raw socket Kernel opened itself, if it did.
func (k *Kernel) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for name := range k.grace {
		k.dropGrace(name)
	}
	if k.own != nil {
		k.own.Close()
		k.own, k.raw = nil, nil
	}
	return nil
}

func (k *Kernel) rawLink() (Raw, error) {
	if k.raw == nil {
		s, err := newRawSocket(netns.None())
		if err != nil {
			return nil, err
		}
		k.raw, k.own = s, s
	}
	return k.raw, nil
}

// found is a bond and its slaves as the kernel lists them now.
type found struct {
	bond   *netlink.Bond
	slaves []netlink.Link // in Spec order if known, else ifindex order
	names  map[int]string // every link's name by ifindex
	index  map[string]int // every link's ifindex by name
}

// find looks the bond up: errkind.KindNotFound if there is no such link,
// errkind.KindInvalid if the link is not a bond.
func (k *Kernel) find(name string) (*found, error) {
	l, err := retryDump(func() (netlink.Link, error) { return k.nl.LinkByName(name) })
	if isNotFound(err) {
		return nil, errkind.NotFound("bond %s does not exist", name)
	}
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", name, err)
	}
	b, ok := l.(*netlink.Bond)
	if !ok {
		return nil, errkind.Invalid("bond", "%s is a %s link, not a bond", name, l.Type())
	}
	all, err := retryDump(k.nl.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	f := &found{bond: b, names: map[int]string{}, index: map[string]int{}}
	for _, l := range all {
		a := l.Attrs()
		f.names[a.Index], f.index[a.Name] = a.Name, a.Index
		if a.MasterIndex == b.Index && a.Index != b.Index {
			f.slaves = append(f.slaves, l)
		}
	}
	slices.SortFunc(f.slaves, func(x, y netlink.Link) int { return x.Attrs().Index - y.Attrs().Index })
	order := k.order[name]
	pos := func(l netlink.Link) int {
		if i := slices.Index(order, l.Attrs().Name); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(f.slaves, func(x, y netlink.Link) int { return pos(x) - pos(y) })
	return f, nil
}

// nameOf returns the name of the link with ifindex i ("" for 0).
func (k *Kernel) nameOf(f *found, i int) string {
	if i <= 0 {
		return ""
	}
	if n, ok := f.names[i]; ok {
		return n
	}
	if l, err := k.nl.LinkByIndex(i); err == nil {
		return l.Attrs().Name
	}
	return ""
}

func (f *found) slaveNames() []string {
	out := make([]string, 0, len(f.slaves))
	for _, s := range f.slaves {
		out = append(out, s.Attrs().Name)
	}
	return out
}

// state is a bond read back completely.
type state struct {
	*found
	info api.BondInfo
	raw  rawValues
}

// read reads the bond's live state, raw attributes included.
func (k *Kernel) read(name string) (*state, error) {
	f, err := k.find(name)
	if err != nil {
		return nil, err
	}
	rv, err := k.rawRead(name, f.bond.Index)
	if err != nil {
		return nil, err
	}
	b := f.bond
	active := k.nameOf(f, b.ActiveSlave)
	p := api.BondParams{
		Mode:            new(int(b.Mode)),
		Primary:         new(k.nameOf(f, b.Primary)),
		ActiveSlave:     new(active),
		ArpInterval:     new(b.ArpInterval),
		ArpIPTarget:     targets(b.ArpIpTargets),
		ArpValidate:     new(int(b.ArpValidate)),
		ArpMissedMax:    new(intOr(rv.missedMax, defaultMissedMax)),
		FailOverMac:     new(int(b.FailOverMac)),
		PrimaryReselect: new(int(b.PrimaryReselect)),
		NumGratArp:      new(b.NumPeerNotif),
		PeerNotifDelay:  new(intOr(rv.peerNotifDelay, 0)),
		Miimon:          new(b.Miimon),
		Updelay:         new(b.UpDelay),
		Downdelay:       new(b.DownDelay),
		AllSlavesActive: new(b.AllSlavesActive),
	}
	return &state{found: f, raw: rv, info: api.BondInfo{
		Name:   name,
		Driver: DriverKernel,
		Up:     b.Flags&net.FlagUp != 0,
		Slaves: f.slaveNames(),
		Active: active,
		Params: p,
	}}, nil
}

// rawRead reads the bond's raw attributes, making sure the raw socket sees
// the same link (ifindex index) as the netlink handle.
func (k *Kernel) rawRead(name string, index int) (rawValues, error) {
	raw, err := k.rawLink()
	if err != nil {
		return rawValues{}, err
	}
	type answer struct {
		index int
		data  []Attr
	}
	a, err := retryDump(func() (answer, error) {
		i, d, err := raw.BondData(name)
		return answer{i, d}, err
	})
	if err != nil {
		return rawValues{}, fmt.Errorf("read bond %s attributes: %w", name, err)
	}
	if a.index != index {
		return rawValues{}, fmt.Errorf("read bond %s attributes: the raw socket sees ifindex %d, the netlink handle %d: they are in different network namespaces (use bond.NewHandleAt)", name, a.index, index)
	}
	rv, err := parseRaw(a.data)
	if err != nil {
		return rawValues{}, fmt.Errorf("read bond %s attributes: %w", name, err)
	}
	return rv, nil
}

// targets converts the kernel's ARP targets; none is an empty list.
func targets(ips []net.IP) []netip.Addr {
	out := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// Info reads the bond's live state: errkind.KindNotFound if there is no such
// link, errkind.KindInvalid if it is not a bond. Every parameter is set;
// arp_missed_max reads 2 and peer_notif_delay 0 on kernels that predate
// them (what those kernels do).
func (k *Kernel) Info(ctx context.Context, name string) (api.BondInfo, error) {
	if err := ctx.Err(); err != nil {
		return api.BondInfo{}, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	st, err := k.read(name)
	if err != nil {
		return api.BondInfo{}, fmt.Errorf("bond %s info: %w", name, err)
	}
	return st.info, nil
}

// Delete releases the bond's slaves (the kernel leaves them down) and
// deletes it: errkind.KindNotFound if there is no such link,
// errkind.KindInvalid if it is not a bond.
func (k *Kernel) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.remove(name); err != nil {
		return fmt.Errorf("delete bond %s: %w", name, err)
	}
	return nil
}

// remove releases the bond's slaves and deletes it; k.mu is held.
func (k *Kernel) remove(name string) error {
	f, err := k.find(name)
	if err != nil {
		return err
	}
	for _, s := range f.slaves {
		if err := k.nl.LinkSetNoMaster(s); err != nil {
			return fmt.Errorf("release %s: %w", s.Attrs().Name, kernelErr("", err))
		}
	}
	if err := k.nl.LinkDel(f.bond); err != nil {
		return kernelErr("", err)
	}
	delete(k.order, name)
	k.dropGrace(name)
	k.log.Info("bond deleted", "bond", name, "released", f.slaveNames())
	return nil
}
