package tcattach

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Modes.
const (
	Auto   = ""       // TCX where the kernel has it, else Legacy
	TCX    = "tcx"    // Linux 6.6+
	Legacy = "legacy" // clsact qdisc + cls_bpf direct-action filter
)

// CheckMode validates a mode name.
func CheckMode(m string) error {
	switch m {
	case Auto, TCX, Legacy:
		return nil
	}
	return fmt.Errorf("tc attach mode %q is none of tcx, legacy or empty (automatic)", m)
}

// Program is a program and the direction it runs in.
type Program struct {
	Prog    *ebpf.Program
	Ingress bool // else egress
}

// Options say how to attach.
type Options struct {
	Mode string
	// Name marks legacy filters (cls_bpf's name), so ours are found; it
	// also starts the names of pinned links.
	Name string
	// First puts the programs before the others on the device: TCX at the
	// head of the chain (else the tail); legacy filters get Priority, lower
	// runs first.
	First    bool
	Priority uint16
	// Before, when First is not set, names a program (its kernel name,
	// as bpftool lists it) that these must run before: TCX anchors them
	// before the first program of that name on the device, or at the
	// tail when there is none yet (one attached later goes after them).
	// Legacy filters ignore it: Priority orders them.
	Before string
	// PinDir, on a bpffs, keeps TCX links beyond the process: each is
	// pinned there (PinPath), and an Attach that finds the pin of a live
	// link on the same device and direction takes it over, swapping its
	// program in place when it differs. Empty: links end with the process.
	PinDir string
}

// Attachment is programs on one device.
type Attachment struct {
	mode   string
	links  []link.Link // TCX: closing the last reference detaches
	pins   []string    // the pin of links[i], or ""
	nl     *netlink.Handle
	index  int
	name   string
	clsact bool // we (or a run of ours before) added the clsact qdisc
}

// Mode is TCX or Legacy.
func (a *Attachment) Mode() string { return a.mode }

// Attach puts progs on ifindex. The calling thread's network namespace is
// the device's (TCX resolves ifindex in it); nl works in that namespace.
//
// What an earlier run left is taken over without a moment with no program
// on the device: a pinned TCX link (Options.PinDir) gets the new program
// with one link update, a legacy filter of ours is replaced in place. When
// the mode changed since (TCX to legacy or back), the new attachment is
// made before the old one is removed.
func Attach(nl *netlink.Handle, ifindex int, progs []Program, o Options) (*Attachment, error) {
	if err := CheckMode(o.Mode); err != nil {
		return nil, err
	}
	if o.Mode == Auto || o.Mode == TCX {
		a, err := attachTCX(ifindex, progs, o)
		if err == nil {
			if err := dropLegacy(nl, ifindex, o.Name); err != nil {
				_ = a.Detach()
				return nil, err
			}
			return a, nil
		}
		if o.Mode == TCX || !errors.Is(err, ebpf.ErrNotSupported) {
			return nil, err
		}
	}
	a, err := attachLegacy(nl, ifindex, progs, o)
	if err != nil {
		return nil, err
	}
	if err := dropPinnedTCX(ifindex, progs, o); err != nil {
		_ = a.Detach()
		return nil, err
	}
	return a, nil
}

// Release forgets the attachment and leaves the programs running: pinned
// TCX links and legacy filters stay. A TCX link that is not pinned has no
// other holder and ends here.
func (a *Attachment) Release() error {
	var errs []error
	for _, l := range a.links {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close tcx link of ifindex %d: %w", a.index, err))
		}
	}
	a.links, a.pins = nil, nil
	return errors.Join(errs...)
}

// Detach removes the programs and their pins. A device that is gone took
// them with it. The clsact qdisc goes too if we added it and nothing else
// uses it.
func (a *Attachment) Detach() error {
	var errs []error
	for i, l := range a.links {
		if a.pins[i] != "" {
			if err := l.Unpin(); err != nil {
				errs = append(errs, fmt.Errorf("unpin tcx link of ifindex %d: %w", a.index, err))
			}
		}
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach tcx from ifindex %d: %w", a.index, err))
		}
	}
	a.links, a.pins = nil, nil
	if a.mode != Legacy {
		return errors.Join(errs...)
	}
	if _, err := a.nl.LinkByIndex(a.index); err != nil {
		return nil // the device is gone, and its qdisc and filters with it
	}
	if err := removeOurs(a.nl, a.index, a.name, 0); err != nil {
		errs = append(errs, err)
	}
	if a.clsact {
		if left, err := Filters(a.nl, a.index, ""); err == nil && len(left) == 0 {
			if err := a.nl.QdiscDel(clsact(a.index)); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
				errs = append(errs, fmt.Errorf("remove clsact from ifindex %d: %w", a.index, err))
			}
		}
	}
	return errors.Join(errs...)
}

// progID is a loaded program's kernel id (0 when the kernel does not say).
func progID(p *ebpf.Program) ebpf.ProgramID {
	info, err := p.Info()
	if err != nil {
		return 0
	}
	id, _ := info.ID()
	return id
}
