package topology

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	"github.com/vishvananda/netns"

	"github.com/multilink/multilink/internal/impairment"
	"github.com/multilink/multilink/internal/nsthread"
)

// Kind says how the two underlays are made.
type Kind int

const (
	// VethPairs joins the gateway and the hub with one veth pair per
	// underlay; impair them with the kernel (link down, netem).
	VethPairs Kind = iota
	// Emulated runs each underlay through the "net" namespace and the
	// userspace link emulator (package impairment): Topology.Links cut,
	// delay and lose frames on any kernel.
	Emulated
)

// Options say what to build.
type Options struct {
	// Prefix starts the namespaces' names: <Prefix>-<6 hex>-{hub,gw,net}.
	Prefix string
	Kind   Kind
	// Logger is the link emulator's log; nil: none.
	Logger *slog.Logger
}

// NS is one of the world's named network namespaces.
type NS struct {
	Name   string         // as `ip netns list` shows it
	Handle netns.NsHandle // open until Close
}

// Topology is a built world. Its namespaces and links are valid until
// Close.
type Topology struct {
	// Name is the namespaces' common stem, <Prefix>-<6 hex>.
	Name    string
	Hub, Gw NS
	// Net holds the emulated links (Emulated only; zero otherwise).
	Net NS
	// Links are the emulated underlays, u1 first (Emulated only).
	Links [2]*impairment.Link

	made   []*NS
	closed bool
}

// New builds the world; on error it removes what it made. With Emulated
// the relays run until Close or until ctx ends.
func New(ctx context.Context, o Options) (_ *Topology, err error) {
	if o.Prefix == "" {
		return nil, errors.New("build topology: no namespace prefix")
	}
	if o.Kind != VethPairs && o.Kind != Emulated {
		return nil, fmt.Errorf("build topology: unknown kind %d", o.Kind)
	}
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("name the namespaces: %w", err)
	}
	t := &Topology{Name: o.Prefix + "-" + hex.EncodeToString(b[:])}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Close())
		}
	}()
	type role struct {
		name string
		ns   *NS
	}
	roles := []role{{"hub", &t.Hub}, {"gw", &t.Gw}}
	if o.Kind == Emulated {
		roles = append(roles, role{"net", &t.Net})
	}
	for _, r := range roles {
		if err := t.namespace(r.ns, t.Name+"-"+r.name); err != nil {
			return nil, err
		}
	}
	for i, u := range Underlays() {
		if o.Kind == Emulated {
			err = t.emulate(ctx, i, u, o.Logger)
		} else {
			err = veth(t.Gw.Handle, t.Hub.Handle, u.Dev)
		}
		if err != nil {
			return nil, err
		}
		if err := address(t.Gw.Handle, u.Dev, u.Gw); err != nil {
			return nil, err
		}
		if err := address(t.Hub.Handle, u.Dev, u.Hub); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// namespace makes the named namespace ns, lo up.
func (t *Topology) namespace(ns *NS, name string) error {
	h, err := nsthread.NewNamed(name)
	if err != nil {
		return err
	}
	*ns = NS{Name: name, Handle: h}
	t.made = append(t.made, ns)
	return upLoopback(h)
}

// emulate makes underlay i through the net namespace: u<i> in the gateway
// and the hub, g<i> and h<i> the relay's ends in between.
func (t *Topology) emulate(ctx context.Context, i int, u Underlay, log *slog.Logger) error {
	l, err := impairment.NewLink(ctx, impairment.LinkOptions{
		Left: t.Gw.Handle, Middle: t.Net.Handle, Right: t.Hub.Handle,
		LeftName: u.Dev, RightName: u.Dev, MiddleLeft: fmt.Sprintf("g%d", i+1), MiddleRight: fmt.Sprintf("h%d", i+1),
		Seed: uint64(i + 1), Logger: log,
	})
	if err != nil {
		return fmt.Errorf("emulate link %s: %w", u.Dev, err)
	}
	t.Links[i] = l
	return nil
}

// Close removes the emulated links and the namespaces; a second call does
// nothing. Stop what runs in the namespaces first.
func (t *Topology) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	var errs []error
	for i, l := range t.Links {
		if l != nil {
			if err := l.Close(); err != nil {
				errs = append(errs, fmt.Errorf("remove emulated link u%d: %w", i+1, err))
			}
		}
	}
	for _, ns := range t.made {
		if ns.Handle.IsOpen() {
			ns.Handle.Close()
		}
		ns.Handle = netns.None()
		if err := netns.DeleteNamed(ns.Name); err != nil {
			errs = append(errs, fmt.Errorf("delete netns %s: %w", ns.Name, err))
		}
	}
	return errors.Join(errs...)
}
