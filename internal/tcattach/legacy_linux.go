package tcattach

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func parentOf(ingress bool) uint32 {
	if ingress {
		return netlink.HANDLE_MIN_INGRESS
	}
	return netlink.HANDLE_MIN_EGRESS
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
	for _, p := range progs {
		replaced, err := a.put(p, o.Priority)
		if err != nil {
			_ = a.Detach()
			return nil, err
		}
		if replaced {
			a.clsact = true // an earlier run of ours made the qdisc
		}
	}
	return a, nil
}

// put sets p as our filter in its direction: one filter of ours at the
// same priority is replaced in place (the kernel swaps the program, no
// frame goes without one) unless it runs p already; else ours there are
// removed and p added. replaced: there was one to take over.
func (a *Attachment) put(p Program, prio uint16) (replaced bool, err error) {
	parent := parentOf(p.Ingress)
	ours, err := filtersAt(a.nl, a.index, parent, a.name)
	if err != nil {
		return false, err
	}
	f := &netlink.BpfFilter{
		FilterAttrs:  netlink.FilterAttrs{LinkIndex: a.index, Parent: parent, Priority: prio, Protocol: unix.ETH_P_ALL},
		Fd:           p.Prog.FD(),
		Name:         a.name,
		DirectAction: true,
	}
	if len(ours) == 1 && a.name != "" {
		old := ours[0]
		if at := old.Attrs(); at.Priority == prio && at.Protocol == unix.ETH_P_ALL {
			if id := progID(p.Prog); id != 0 && old.Id == int(id) {
				return true, nil
			}
			f.Handle = at.Handle
			if err := a.nl.FilterReplace(f); err != nil {
				return false, fmt.Errorf("replace cls_bpf filter %s on ifindex %d: %w", a.name, a.index, err)
			}
			return true, nil
		}
	}
	if err := removeOurs(a.nl, a.index, a.name, parent); err != nil {
		return false, err
	}
	if err := a.nl.FilterAdd(f); err != nil {
		return false, fmt.Errorf("add cls_bpf filter to ifindex %d: %w", a.index, err)
	}
	return false, nil
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
		fs, err := filtersAt(nl, ifindex, parent, name)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			out = append(out, f)
		}
	}
	return out, nil
}

func filtersAt(nl *netlink.Handle, ifindex int, parent uint32, name string) ([]*netlink.BpfFilter, error) {
	fs, err := nl.FilterList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifindex}}, parent)
	if err != nil {
		return nil, fmt.Errorf("list filters of ifindex %d: %w", ifindex, err)
	}
	var out []*netlink.BpfFilter
	for _, f := range fs {
		if bf, ok := f.(*netlink.BpfFilter); ok && (name == "" || bf.Name == name) {
			out = append(out, bf)
		}
	}
	return out, nil
}

// removeOurs removes the filters named name on ifindex: at parent, or in
// both directions when parent is 0.
func removeOurs(nl *netlink.Handle, ifindex int, name string, parent uint32) error {
	parents := []uint32{parent}
	if parent == 0 {
		parents = []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS}
	}
	for _, p := range parents {
		fs, err := filtersAt(nl, ifindex, p, name)
		if err != nil {
			return err
		}
		for _, f := range fs {
			if err := nl.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("remove filter %s from ifindex %d: %w", name, ifindex, err)
			}
		}
	}
	return nil
}

// dropLegacy removes the legacy filters named name that an earlier run in
// legacy mode left on ifindex, once TCX programs are attached. Without a
// clsact qdisc there are none.
func dropLegacy(nl *netlink.Handle, ifindex int, name string) error {
	if nl == nil || name == "" {
		return nil
	}
	qs, err := nl.QdiscList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifindex}})
	if err != nil {
		return fmt.Errorf("list qdiscs of ifindex %d: %w", ifindex, err)
	}
	for _, q := range qs {
		if q.Type() == "clsact" {
			return removeOurs(nl, ifindex, name, 0)
		}
	}
	return nil
}
