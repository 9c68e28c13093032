package probe

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Attach modes.
const (
	AttachAuto   = ""       // TCX where the kernel has it, else legacy
	AttachTCX    = "tcx"    // Linux 6.6+
	AttachLegacy = "legacy" // clsact qdisc + cls_bpf direct-action filter
)

// filterName marks our legacy filters, so a crashed daemon's are found.
const (
	filterName     = "multilink_probe"
	filterPriority = 1 // before anything else of ours on the TAP (the eBPF bond)
)

// attachment is the probe on one TAP: both directions.
type attachment struct {
	mode   string
	links  []link.Link // TCX: closing detaches
	nl     *netlink.Handle
	index  int
	clsact bool // we added the clsact qdisc
}

// attach puts the probe programs on ifindex's ingress and egress. The
// calling thread's namespace is the device's. With TCX the programs go to
// the head of the chain, so they see every frame before others decide.
func attach(o *objects, nl *netlink.Handle, ifindex int, mode string) (*attachment, error) {
	if mode == AttachAuto || mode == AttachTCX {
		a, err := attachTCX(o, ifindex)
		if err == nil || mode == AttachTCX || !errors.Is(err, ebpf.ErrNotSupported) {
			return a, err
		}
	}
	return attachLegacy(o, nl, ifindex)
}

func attachTCX(o *objects, ifindex int) (*attachment, error) {
	a := &attachment{mode: AttachTCX, index: ifindex}
	for _, p := range []struct {
		prog *ebpf.Program
		at   ebpf.AttachType
	}{{o.ProbeIngress, ebpf.AttachTCXIngress}, {o.ProbeEgress, ebpf.AttachTCXEgress}} {
		l, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: p.prog, Attach: p.at, Anchor: link.Head()})
		if err != nil {
			_ = a.detach()
			return nil, fmt.Errorf("attach tcx %s to ifindex %d: %w", p.at, ifindex, err)
		}
		a.links = append(a.links, l)
	}
	return a, nil
}

func attachLegacy(o *objects, nl *netlink.Handle, ifindex int) (*attachment, error) {
	a := &attachment{mode: AttachLegacy, nl: nl, index: ifindex}
	q := clsact(ifindex)
	switch err := nl.QdiscAdd(q); {
	case err == nil:
		a.clsact = true
	case errors.Is(err, unix.EEXIST):
	default:
		return nil, fmt.Errorf("add clsact qdisc to ifindex %d: %w", ifindex, err)
	}
	if err := a.removeStale(); err != nil {
		_ = a.detach()
		return nil, err
	}
	for _, p := range []struct {
		prog   *ebpf.Program
		parent uint32
	}{{o.ProbeIngress, netlink.HANDLE_MIN_INGRESS}, {o.ProbeEgress, netlink.HANDLE_MIN_EGRESS}} {
		f := &netlink.BpfFilter{
			FilterAttrs:  netlink.FilterAttrs{LinkIndex: ifindex, Parent: p.parent, Priority: filterPriority, Protocol: unix.ETH_P_ALL},
			Fd:           p.prog.FD(),
			Name:         filterName,
			DirectAction: true,
		}
		if err := nl.FilterAdd(f); err != nil {
			_ = a.detach()
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

// ours lists our legacy filters on the device, in both directions.
func (a *attachment) ours() ([]netlink.Filter, error) {
	var out []netlink.Filter
	for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		fs, err := a.nl.FilterList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: a.index}}, parent)
		if err != nil {
			return nil, fmt.Errorf("list filters of ifindex %d: %w", a.index, err)
		}
		for _, f := range fs {
			if bf, ok := f.(*netlink.BpfFilter); ok && bf.Name == filterName {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// removeStale removes filters of ours a crashed daemon left.
func (a *attachment) removeStale() error {
	fs, err := a.ours()
	if err != nil {
		return err
	}
	for _, f := range fs {
		if err := a.nl.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove stale filter from ifindex %d: %w", a.index, err)
		}
	}
	return nil
}

// detach removes the programs. A device that is gone took them with it.
func (a *attachment) detach() error {
	var errs []error
	for _, l := range a.links {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach tcx from ifindex %d: %w", a.index, err))
		}
	}
	a.links = nil
	if a.mode != AttachLegacy {
		return errors.Join(errs...)
	}
	if _, err := a.nl.LinkByIndex(a.index); err != nil {
		return nil // the TAP is gone, and its qdisc and filters with it
	}
	if err := a.removeStale(); err != nil {
		errs = append(errs, err)
	}
	if a.clsact {
		// Only if nothing else uses it now.
		left := 0
		for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
			fs, err := a.nl.FilterList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: a.index}}, parent)
			if err == nil {
				left += len(fs)
			}
		}
		if left == 0 {
			if err := a.nl.QdiscDel(clsact(a.index)); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
				errs = append(errs, fmt.Errorf("remove clsact from ifindex %d: %w", a.index, err))
			}
		}
	}
	return errors.Join(errs...)
}
