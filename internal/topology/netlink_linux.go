package topology

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

func handle(ns netns.NsHandle) (*netlink.Handle, error) {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink in namespace: %w", err)
	}
	return h, nil
}

func upLoopback(ns netns.NsHandle) error {
	h, err := handle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}

// veth joins gw and hub with a veth pair named dev at both ends, both up.
func veth(gw, hub netns.NsHandle, dev string) error {
	h, err := handle(gw)
	if err != nil {
		return err
	}
	defer h.Close()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: dev}, PeerName: dev, PeerNamespace: netlink.NsFd(int(hub))}
	if err := h.LinkAdd(v); err != nil {
		return fmt.Errorf("add veth %s: %w", dev, err)
	}
	for _, ns := range []netns.NsHandle{gw, hub} {
		if err := up(ns, dev); err != nil {
			return err
		}
	}
	return nil
}

func up(ns netns.NsHandle, dev string) error {
	h, err := handle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(dev)
	if err == nil {
		err = h.LinkSetUp(l)
	}
	if err != nil {
		return fmt.Errorf("bring %s up: %w", dev, err)
	}
	return nil
}

// address gives dev in ns the address addr/UnderlayBits.
func address(ns netns.NsHandle, dev, addr string) error {
	h, err := handle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("find %s: %w", dev, err)
	}
	cidr := fmt.Sprintf("%s/%d", addr, UnderlayBits)
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		return fmt.Errorf("parse %s: %w", cidr, err)
	}
	if err := h.AddrAdd(l, a); err != nil {
		return fmt.Errorf("address %s on %s: %w", cidr, dev, err)
	}
	return nil
}
