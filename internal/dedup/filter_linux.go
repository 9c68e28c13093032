package dedup

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/bpf"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/nsthread"
	"github.com/multilink/multilink/internal/tcattach"
)

// Defaults of Options.
const (
	DefaultWindow = 100 * time.Millisecond
	DefaultSlots  = 1 << 16
)

// Legacy filter name and priority (between the probe's 1 and the bond's
// 10), and the program it runs before with TCX.
const (
	filterName     = "multilink_dedup"
	filterPriority = 5
	runsBefore     = "bond_in"
)

// Options say how to load and attach the filter.
type Options struct {
	// Window: a copy that arrives within it of the first is dropped;
	// 0: DefaultWindow. It must exceed the difference of the two links'
	// delays, and frames repeated within it are dropped as copies.
	Window time.Duration
	// Slots is the size of the table of frames seen, a power of two;
	// 0: DefaultSlots (24 bytes each). A frame's slot is taken by the
	// next frame that hashes to it, so it should be large against the
	// frames that arrive, over every TAP the filter is on, in the time
	// between a frame's two copies (Stats.Overwritten counts the slots
	// taken early).
	Slots  uint32
	Attach string // tcattach.Auto, TCX or Legacy
	Log    *slog.Logger
}

// Filter is the loaded program and the TAPs it is attached to.
type Filter struct {
	nl  *netlink.Handle
	ns  netns.NsHandle // nl's namespace, for TCX; not open: the caller's
	o   Options
	log *slog.Logger

	mu   sync.Mutex
	obj  *bpf.DedupObjects
	atts map[string]*tcattach.Attachment // by device name
}

// New loads the filter, to attach through nl, in namespace ns (not open:
// the caller's). Without CAP_BPF it fails with errkind.KindUnsupported.
func New(nl *netlink.Handle, ns netns.NsHandle, o Options) (*Filter, error) {
	if err := tcattach.CheckMode(o.Attach); err != nil {
		return nil, err
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.Slots == 0 {
		o.Slots = DefaultSlots
	}
	if o.Window < 0 {
		return nil, errkind.Invalid("window", "negative: %v", o.Window)
	}
	if o.Slots&(o.Slots-1) != 0 {
		return nil, errkind.Invalid("slots", "%d is not a power of two", o.Slots)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	obj, err := load(o)
	if err != nil {
		return nil, err
	}
	return &Filter{nl: nl, ns: ns, o: o, log: log, obj: obj, atts: map[string]*tcattach.Attachment{}}, nil
}

func load(o Options) (*bpf.DedupObjects, error) {
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock limit: %w", err)
	}
	spec, err := bpf.LoadDedup()
	if err != nil {
		return nil, fmt.Errorf("read the duplicate filter: %w", err)
	}
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("draw the hash seed: %w", err)
	}
	for name, v := range map[string]any{
		bpf.DedupVarWindowNs: uint64(o.Window),
		bpf.DedupVarHashSeed: binary.LittleEndian.Uint64(seed[:]),
		bpf.DedupVarSlotMask: o.Slots - 1,
	} {
		if err := spec.Variables[name].Set(v); err != nil {
			return nil, fmt.Errorf("set %s: %w", name, err)
		}
	}
	spec.Maps["slots"].MaxEntries = o.Slots
	var obj bpf.DedupObjects
	if err := spec.LoadAndAssign(&obj, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("load the duplicate filter: %w (verifier log:\n%+v)", err, ve)
		}
		if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EPERM) {
			return nil, errkind.Unsupported(err, "the duplicate filter cannot load (needs CAP_BPF and CAP_NET_ADMIN)")
		}
		return nil, fmt.Errorf("load the duplicate filter: %w", err)
	}
	return &obj, nil
}

// Attach puts the filter on dev's ingress (again: a no-op).
func (f *Filter) Attach(ctx context.Context, dev string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.obj == nil {
		return errkind.Conflict("the duplicate filter is closed")
	}
	if _, ok := f.atts[dev]; ok {
		return nil
	}
	l, err := f.nl.LinkByName(dev)
	if err != nil {
		return errkind.NotFound("attach the duplicate filter to %s: %v", dev, err)
	}
	var a *tcattach.Attachment
	err = nsthread.In(f.ns, func() (err error) {
		a, err = tcattach.Attach(f.nl, l.Attrs().Index, []tcattach.Program{{Prog: f.obj.Dedup, Ingress: true}},
			tcattach.Options{Mode: f.o.Attach, Name: filterName, Priority: filterPriority, Before: runsBefore})
		return err
	})
	if err != nil {
		return fmt.Errorf("attach the duplicate filter to %s: %w", dev, err)
	}
	f.atts[dev] = a
	f.log.Info("duplicate filter attached", "link", dev, "attach", a.Mode(), "window", f.o.Window)
	return nil
}

// Detach takes the filter off dev; a device it is not on is not found.
func (f *Filter) Detach(ctx context.Context, dev string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.atts[dev]
	if !ok {
		return errkind.NotFound("the duplicate filter is not on %s", dev)
	}
	delete(f.atts, dev)
	if err := a.Detach(); err != nil {
		return fmt.Errorf("detach the duplicate filter from %s: %w", dev, err)
	}
	return nil
}

// Close takes the filter off every device and unloads it.
func (f *Filter) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for dev, a := range f.atts {
		if err := a.Detach(); err != nil {
			errs = append(errs, fmt.Errorf("detach the duplicate filter from %s: %w", dev, err))
		}
	}
	clear(f.atts)
	if f.obj != nil {
		if err := f.obj.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the duplicate filter: %w", err))
		}
		f.obj = nil
	}
	return errors.Join(errs...)
}
