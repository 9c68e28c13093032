package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/impairment"
	"github.com/multilink/multilink/internal/nsthread"
)

// The demo's addresses: documentation prefixes for the two emulated
// wireless links, the spec's 10.8.0.0/24 inside the tunnels.
var underlays = [2]struct{ hub, gw string }{
	{"192.0.2.1", "192.0.2.2"},
	{"198.51.100.1", "198.51.100.2"},
}

// world is the demo's hosts: hub and gateway namespaces, and between them
// a "net" namespace holding the two emulated links (u1, u2 on both ends).
type world struct {
	prefix       string
	hub, gw, net netns.NsHandle
	names        []string // the named namespaces made, to delete
	links        [2]*impairment.Link
}

// newWorld builds the namespaces and the links; on error it removes what
// it made.
func newWorld(ctx context.Context, log *slog.Logger) (w *world, err error) {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("name the namespaces: %w", err)
	}
	w = &world{prefix: "mldemo-" + hex.EncodeToString(b[:])}
	defer func() {
		if err != nil {
			w.close(log)
		}
	}()
	for _, n := range []struct {
		name string
		dst  *netns.NsHandle
	}{{"hub", &w.hub}, {"gw", &w.gw}, {"net", &w.net}} {
		if *n.dst, err = nsthread.NewNamed(w.prefix + "-" + n.name); err != nil {
			return w, err
		}
		w.names = append(w.names, w.prefix+"-"+n.name)
		if err := upLoopback(*n.dst); err != nil {
			return w, err
		}
	}
	for i := range w.links {
		u := fmt.Sprintf("u%d", i+1)
		l, err := impairment.NewLink(ctx, impairment.LinkOptions{
			Left: w.gw, Middle: w.net, Right: w.hub,
			LeftName: u, RightName: u, MiddleLeft: fmt.Sprintf("g%d", i+1), MiddleRight: fmt.Sprintf("h%d", i+1),
			Seed: uint64(i + 1), Logger: log,
		})
		if err != nil {
			return w, fmt.Errorf("emulate link %s: %w", u, err)
		}
		w.links[i] = l
		if err := address(w.gw, u, underlays[i].gw+"/24"); err != nil {
			return w, err
		}
		if err := address(w.hub, u, underlays[i].hub+"/24"); err != nil {
			return w, err
		}
	}
	return w, nil
}

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

func address(ns netns.NsHandle, dev, cidr string) error {
	h, err := handle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("find %s: %w", dev, err)
	}
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		return fmt.Errorf("parse %s: %w", cidr, err)
	}
	if err := h.AddrAdd(l, a); err != nil {
		return fmt.Errorf("address %s on %s: %w", cidr, dev, err)
	}
	return nil
}

// close removes the links and the namespaces. The daemons must be stopped
// before: they remove their own interfaces, routes and processes.
func (w *world) close(log *slog.Logger) error {
	var errs []error
	for _, l := range w.links {
		if l != nil {
			errs = append(errs, l.Close())
		}
	}
	for _, ns := range []netns.NsHandle{w.hub, w.gw, w.net} {
		if ns.IsOpen() {
			ns.Close()
		}
	}
	for _, n := range w.names {
		if err := netns.DeleteNamed(n); err != nil {
			errs = append(errs, fmt.Errorf("delete netns %s: %w", n, err))
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		log.Warn("demo cleanup", "err", err)
	}
	return err
}
