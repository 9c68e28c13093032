package impairment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/nsthread"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// LinkOptions describe an emulated link between two namespaces through a
// third:
//
//	Left: LeftName <-veth-> Middle: MiddleLeft [relay] MiddleRight <-veth-> Right: RightName
type LinkOptions struct {
	// The three namespaces, open; NewLink does not close them.
	Left, Middle, Right netns.NsHandle
	// LeftName and RightName are the outer ends (e.g. "u1" on both sides);
	// the caller gives them addresses.
	LeftName, RightName string
	// MiddleLeft and MiddleRight are the inner ends, the relay's A and B
	// (e.g. "g1" and "h1"). AtoB is Left to Right.
	MiddleLeft, MiddleRight string
	// MTU of all four ends; 0 keeps the kernel's default (1500).
	MTU int
	// KeepOffloads leaves GSO as it is on the outer ends, so TCP may send
	// 64 KiB super-frames that the relay then impairs as one frame. By
	// default the outer ends get gso_max_segs 1: every frame crossing the
	// relay is wire-sized and loss hits single segments.
	KeepOffloads bool
	// Seed, QueueLen and Logger are passed to the Relay.
	Seed     uint64
	QueueLen int
	Logger   *slog.Logger
}

// Link is an emulated link: two veth pairs and the Relay between them.
// Close stops the relay and removes the veths.
type Link struct {
	*Relay
	log       *slog.Logger
	mid       *netlink.Handle
	made      []string // middle ends of the veth pairs this Link created
	closeOnce sync.Once
	closeErr  error
}

// NewLink creates the veth pairs, brings all four ends up (the middle ones
// without IPv6 and without addresses), and starts the relay until Close or
// until ctx ends (the veths stay until Close). On error it removes what it
// made.
func NewLink(ctx context.Context, o LinkOptions) (_ *Link, err error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mid, err := netlink.NewHandleAt(o.Middle, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in middle netns: %w", err)
	}
	l := &Link{log: log, mid: mid}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
		}
	}()
	for _, side := range []struct {
		ns          netns.NsHandle
		outer, name string
	}{{o.Left, o.LeftName, o.MiddleLeft}, {o.Right, o.RightName, o.MiddleRight}} {
		if err := l.addPair(o, side.ns, side.outer, side.name); err != nil {
			return nil, err
		}
	}
	err = nsthread.In(o.Middle, func() error {
		return errors.Join(disableIPv6(o.MiddleLeft), disableIPv6(o.MiddleRight))
	})
	if err != nil {
		return nil, fmt.Errorf("in middle netns: %w", err)
	}
	for _, name := range []string{o.MiddleLeft, o.MiddleRight} {
		if err := setUp(mid, name); err != nil {
			return nil, err
		}
	}
	l.Relay, err = New(ctx, Options{
		NS: o.Middle, A: o.MiddleLeft, B: o.MiddleRight,
		Seed: o.Seed, QueueLen: o.QueueLen, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (o LinkOptions) validate() error {
	for _, ns := range []netns.NsHandle{o.Left, o.Middle, o.Right} {
		if !ns.IsOpen() || ns == 0 {
			return errkind.Invalid("namespaces", "left, middle and right must be open netns handles")
		}
	}
	if o.LeftName == "" || o.RightName == "" || o.MiddleLeft == "" || o.MiddleRight == "" {
		return errkind.Invalid("names", "all four interface names are required")
	}
	if o.MiddleLeft == o.MiddleRight {
		return errkind.Invalid("names", "the middle ends need different names, both are %q", o.MiddleLeft)
	}
	if o.MTU < 0 {
		return errkind.Invalid("mtu", "must not be negative, got %d", o.MTU)
	}
	return nil
}

// addPair creates the veth pair outer (in ns) <-> inner (in the middle),
// from the outer side so that IFLA_GSO_MAX_SEGS applies to the outer end
// at creation (which any kernel accepts), and brings the outer end up.
func (l *Link) addPair(o LinkOptions, ns netns.NsHandle, outer, inner string) error {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink handle for %s: %w", outer, err)
	}
	defer h.Close()
	v := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: outer, MTU: o.MTU},
		PeerName:      inner,
		PeerMTU:       uint32(o.MTU),
		PeerNamespace: netlink.NsFd(int(o.Middle)),
	}
	if !o.KeepOffloads {
		v.GSOMaxSegs = 1
	}
	if err := h.LinkAdd(v); err != nil {
		return fmt.Errorf("add veth %s/%s: %w", outer, inner, err)
	}
	l.made = append(l.made, inner)
	return setUp(h, outer)
}

func setUp(h *netlink.Handle, name string) error {
	link, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// Close stops the relay and deletes the veth pairs (deleting the middle
// end removes its peer too). It is idempotent.
func (l *Link) Close() error {
	l.closeOnce.Do(func() {
		if l.Relay != nil {
			l.closeErr = l.Relay.Close()
		}
		for _, name := range l.made {
			link, err := l.mid.LinkByName(name)
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) {
				continue // gone already, e.g. with its namespace
			}
			if err == nil {
				err = l.mid.LinkDel(link)
			}
			if err != nil {
				l.closeErr = errors.Join(l.closeErr, fmt.Errorf("delete veth %s: %w", name, err))
			}
		}
		l.mid.Close()
		l.log.Info("link removed", "veths", l.made)
	})
	return l.closeErr
}
