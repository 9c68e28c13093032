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
	// Name marks legacy filters (cls_bpf's name), so ours are found.
	Name string
	// First puts the programs before the others on the device: TCX at the
	// head of the chain (else the tail); legacy filters get Priority, lower
	// runs first.
	First    bool
	Priority uint16
}

// Attachment is programs on one device.
type Attachment struct {
	mode   string
	links  []link.Link // TCX: closing detaches
	nl     *netlink.Handle
	index  int
	name   string
	clsact bool // we added the clsact qdisc
}

// Mode is TCX or Legacy.
func (a *Attachment) Mode() string { return a.mode }

// Attach puts progs on ifindex. The calling thread's network namespace is
// the device's (TCX resolves ifindex in it); nl works in that namespace.
func Attach(nl *netlink.Handle, ifindex int, progs []Program, o Options) (*Attachment, error) {
	if err := CheckMode(o.Mode); err != nil {
		return nil, err
	}
	if o.Mode == Auto || o.Mode == TCX {
		a, err := attachTCX(ifindex, progs, o.First)
		if err == nil || o.Mode == TCX || !errors.Is(err, ebpf.ErrNotSupported) {
			return a, err
		}
	}
	return attachLegacy(nl, ifindex, progs, o)
}

func attachTCX(ifindex int, progs []Program, first bool) (*Attachment, error) {
	a := &Attachment{mode: TCX, index: ifindex}
	anchor := link.Tail()
	if first {
		anchor = link.Head()
	}
	for _, p := range progs {
		at := ebpf.AttachTCXEgress
		if p.Ingress {
			at = ebpf.AttachTCXIngress
		}
		l, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: p.Prog, Attach: at, Anchor: anchor})
		if err != nil {
			_ = a.Detach()
			return nil, fmt.Errorf("attach tcx %s to ifindex %d: %w", at, ifindex, err)
		}
		a.links = append(a.links, l)
	}
	return a, nil
}

func attachLegacy(nl *netlink.Handle, ifindex int, progs []Program, o Options) (*Attachment, error) {
	a := &Attachment{mode: Legacy, nl: nl, index: ifindex, name: o.Name}
	switch err := nl.QdiscAdd(clsact(ifindex)); {
	case err == nil:
		a.clsact = true
	case errors.Is(err, unix.EEXIST):
	default:
		return nil, fmt.Errorf("add clsact qdisc to ifindex %d: %w", ifindex, err)
	}
	if err := a.removeOurs(); err != nil {
		_ = a.Detach()
		return nil, err
	}
	for _, p := range progs {
		parent := uint32(netlink.HANDLE_MIN_EGRESS)
		if p.Ingress {
			parent = netlink.HANDLE_MIN_INGRESS
		}
		f := &netlink.BpfFilter{
			FilterAttrs:  netlink.FilterAttrs{LinkIndex: ifindex, Parent: parent, Priority: o.Priority, Protocol: unix.ETH_P_ALL},
			Fd:           p.Prog.FD(),
			Name:         o.Name,
			DirectAction: true,
		}
		if err := nl.FilterAdd(f); err != nil {
			_ = a.Detach()
			return nil, fmt.Errorf("add cls_bpf filter to ifindex %d: %w", ifindex, err)
		}
	}
	return a, nil
}

func clsact(ifindex int) *netlink.GenericQdisc {
	return &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: ifindex, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT},
		QdiscType:  "clsact",
	}
}

// Filters lists the legacy filters named name on ifindex, both directions.
func Filters(nl *netlink.Handle, ifindex int, name string) ([]netlink.Filter, error) {
	var out []netlink.Filter
	for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		fs, err := nl.FilterList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifindex}}, parent)
		if err != nil {
			return nil, fmt.Errorf("list filters of ifindex %d: %w", ifindex, err)
		}
		for _, f := range fs {
			if bf, ok := f.(*netlink.BpfFilter); ok && (name == "" || bf.Name == name) {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// removeOurs removes our named filters (a crashed daemon's, or before a
// detach).
func (a *Attachment) removeOurs() error {
	fs, err := Filters(a.nl, a.index, a.name)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if err := a.nl.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove filter %s from ifindex %d: %w", a.name, a.index, err)
		}
	}
	return nil
}

// Detach removes the programs. A device that is gone took them with it.
// The clsact qdisc goes too if we added it and nothing else uses it.
func (a *Attachment) Detach() error {
	var errs []error
	for _, l := range a.links {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach tcx from ifindex %d: %w", a.index, err))
		}
	}
	a.links = nil
	if a.mode != Legacy {
		return errors.Join(errs...)
	}
	if _, err := a.nl.LinkByIndex(a.index); err != nil {
		return nil // the device is gone, and its qdisc and filters with it
	}
	if err := a.removeOurs(); err != nil {
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
