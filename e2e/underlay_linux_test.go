package e2e

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/impairment"
	"github.com/multilink/multilink/internal/nstest"
)

// underlayEnv forces the benchmark's underlays: "netem" or "emulated";
// by default netem where the kernel has it.
const underlayEnv = "MULTILINK_BENCH_UNDERLAY"

// underlay impairs one of the two links between gateway and hub.
type underlay interface {
	// Cut drops every frame both ways (true) or lets them pass again,
	// with the impairments set before (false).
	Cut(cut bool) error
	// Set impairs each direction; the zero Impairment clears it.
	Set(toHub, toGw impairment.Impairment) error
}

// newBenchTopology is the spec's topology with two underlays the benchmark
// can cut, delay and make lossy: veth pairs with netem in the kernel where
// it exists (the lab), the userspace emulator elsewhere. It names which.
func newBenchTopology(t testing.TB) (*testbed, [2]underlay, string) {
	t.Helper()
	nstest.RequireAdmin(t)
	kind := os.Getenv(underlayEnv)
	if kind == "" {
		kind = "emulated"
		if err := haveNetem(t); err == nil {
			kind = "netem"
		} else {
			t.Logf("no netem (%v): the underlays are emulated in userspace", err)
		}
	}
	switch kind {
	case "netem":
		tp := newTopology(t)
		var u [2]underlay
		for i, dev := range []string{"u1", "u2"} {
			n := &netemUnderlay{gw: tp.gw, hub: tp.hub, dev: dev}
			t.Cleanup(func() { _ = n.Set(impairment.Impairment{}, impairment.Impairment{}) })
			u[i] = n
		}
		return tp, u, "netem (kernel, on each veth end)"
	case "emulated":
		tp := newEmulatedTopology(t)
		return tp, [2]underlay{emulated{tp.links[0]}, emulated{tp.links[1]}}, "emulated (userspace, package impairment)"
	}
	t.Fatalf("%s=%q: want netem or emulated", underlayEnv, kind)
	return nil, [2]underlay{}, ""
}

// haveNetem reports whether a netem qdisc can be made, on a veth pair in
// a namespace of its own that goes when the test ends.
func haveNetem(t testing.TB) error {
	ns := nstest.New(t, "mlnq")
	if err := ns.Handle.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "nq0"}, PeerName: "nq1"}); err != nil {
		return fmt.Errorf("add veth: %w", err)
	}
	l, err := ns.Handle.LinkByName("nq0")
	if err != nil {
		return fmt.Errorf("find veth: %w", err)
	}
	return ns.Handle.QdiscAdd(netemQdisc(l.Attrs().Index, impairment.Impairment{}))
}

// netemQdisc is the root netem qdisc of ifindex doing im.
func netemQdisc(ifindex int, im impairment.Impairment) *netlink.Netem {
	return netlink.NewNetem(
		netlink.QdiscAttrs{LinkIndex: ifindex, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT},
		netlink.NetemQdiscAttrs{Latency: uint32(im.Delay.Microseconds()), Jitter: uint32(im.Jitter.Microseconds()), Loss: float32(im.Loss * 100)})
}

// netemUnderlay impairs a veth pair: the gateway end's egress carries what
// goes to the hub, the hub end's what goes to the gateway. Set through
// netlink, so a cut takes both directions within microseconds.
type netemUnderlay struct {
	gw, hub *nstest.NS
	dev     string
	set     [2]impairment.Impairment // to the hub, to the gateway
	cut     bool
}

func (n *netemUnderlay) Cut(cut bool) error {
	n.cut = cut
	return n.apply()
}

func (n *netemUnderlay) Set(toHub, toGw impairment.Impairment) error {
	n.set = [2]impairment.Impairment{toHub, toGw}
	return n.apply()
}

// apply puts each end's impairment in force: a netem qdisc, or none for
// an end that passes everything.
func (n *netemUnderlay) apply() error {
	var errs []error
	for i, ns := range []*nstest.NS{n.gw, n.hub} {
		im := n.set[i]
		if n.cut {
			im = impairment.Impairment{Loss: 1}
		}
		l, err := ns.Handle.LinkByName(n.dev)
		if err != nil {
			errs = append(errs, fmt.Errorf("find %s in %s: %w", n.dev, ns.Name, err))
			continue
		}
		q := netemQdisc(l.Attrs().Index, im)
		if im == (impairment.Impairment{}) {
			// ENOENT: no netem there; EINVAL: the default root qdisc.
			if err := ns.Handle.QdiscDel(q); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
				errs = append(errs, fmt.Errorf("remove netem on %s in %s: %w", n.dev, ns.Name, err))
			}
			continue
		}
		if err := ns.Handle.QdiscReplace(q); err != nil {
			errs = append(errs, fmt.Errorf("netem %v on %s in %s: %w", im, n.dev, ns.Name, err))
		}
	}
	return errors.Join(errs...)
}

// emulated is an underlay through the userspace link emulator.
type emulated struct{ l *impairment.Link }

func (e emulated) Cut(cut bool) error { e.l.Cut(cut); return nil }

func (e emulated) Set(toHub, toGw impairment.Impairment) error {
	return errors.Join(e.l.Set(impairment.AtoB, toHub), e.l.Set(impairment.BtoA, toGw))
}
