package impairment

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/vishvananda/netlink"
)

// TestLinkShape: the middle ends carry no address of either family and
// have IPv6 off (read back through `ip netns exec`, which shows that the
// sysctl written on a thread in the namespace landed there); the outer
// ends have gso_max_segs 1.
func TestLinkShape(t *testing.T) {
	w := newWorld(t, LinkOptions{MTU: 1400})
	for _, name := range []string{"g1", "h1"} {
		l, err := w.mid.Handle.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().MTU != 1400 || l.Attrs().OperState == netlink.OperDown {
			t.Errorf("%s: mtu %d, state %v", name, l.Attrs().MTU, l.Attrs().OperState)
		}
		addrs, err := w.mid.Handle.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			t.Fatal(err)
		}
		if len(addrs) != 0 {
			t.Errorf("%s has addresses %v", name, addrs)
		}
		out := w.mid.Run(t, "cat", "/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6")
		if strings.TrimSpace(out) != "1" {
			t.Errorf("%s: disable_ipv6 is %q", name, out)
		}
	}
	for _, n := range []*nstest.NS{w.left, w.right} {
		l, err := n.Handle.LinkByName("u1")
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().GSOMaxSegs != 1 || l.Attrs().MTU != 1400 {
			t.Errorf("u1 in %s: gso_max_segs %d, mtu %d", n.Name, l.Attrs().GSOMaxSegs, l.Attrs().MTU)
		}
	}
	if p := pingN(t, w.left, rightAddr, 3, 10*time.Millisecond, 1372, time.Second); p.received != 3 {
		t.Errorf("full-size echo at MTU 1400: %d of 3 answered", p.received)
	}
}

// TestLinkRollback: a NewLink that fails half-way removes what it made.
func TestLinkRollback(t *testing.T) {
	w := newNamespaces(t)
	// A u1 already in the right namespace makes the second pair fail.
	nstest.Veth(t, w.right, "u1", "", w.right, "x1", "")
	_, err := NewLink(t.Context(), LinkOptions{
		Left: handle(w.left), Middle: handle(w.mid), Right: handle(w.right),
		LeftName: "u1", MiddleLeft: "g1", MiddleRight: "h1", RightName: "u1",
	})
	if err == nil {
		t.Fatal("NewLink over an existing u1: no error")
	}
	t.Logf("error, as expected: %v", err)
	if l := links(t, w.left); len(l) != 0 {
		t.Errorf("left namespace keeps %v", l)
	}
	if l := links(t, w.mid); len(l) != 0 {
		t.Errorf("middle namespace keeps %v", l)
	}
}

func TestLinkOptionErrors(t *testing.T) {
	w := newNamespaces(t)
	good := LinkOptions{
		Left: handle(w.left), Middle: handle(w.mid), Right: handle(w.right),
		LeftName: "u1", MiddleLeft: "g1", MiddleRight: "h1", RightName: "u1",
	}
	for name, change := range map[string]func(*LinkOptions){
		"no middle":    func(o *LinkOptions) { o.Middle = 0 },
		"no name":      func(o *LinkOptions) { o.LeftName = "" },
		"same middle":  func(o *LinkOptions) { o.MiddleRight = "g1" },
		"negative mtu": func(o *LinkOptions) { o.MTU = -1 },
	} {
		o := good
		change(&o)
		if _, err := NewLink(t.Context(), o); !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("%s: got %v, want an invalid error", name, err)
		}
	}
}

// TestSetErrors: out-of-range settings are refused and change nothing.
func TestSetErrors(t *testing.T) {
	w := newWorld(t, LinkOptions{})
	if err := w.link.Set(AtoB, Impairment{Loss: 2}); !errors.Is(err, errkind.ErrInvalid) {
		t.Errorf("loss 2: %v", err)
	}
	if err := w.link.Set(Direction(5), Impairment{}); !errors.Is(err, errkind.ErrInvalid) {
		t.Errorf("direction 5: %v", err)
	}
	if im := w.link.Impairment(AtoB); im != (Impairment{}) {
		t.Errorf("a->b is %v after refused settings", im)
	}
}

// TestRate: at 1 MB/s one way, 2 MiB by TCP take about 2 s.
func TestRate(t *testing.T) {
	w := newWorld(t, LinkOptions{})
	if err := w.link.Set(AtoB, Impairment{Rate: 1_000_000}); err != nil {
		t.Fatal(err)
	}
	took := transfer(t, w, 2<<20)
	s := w.link.Stats().AtoB
	t.Logf("2 MiB at 1 MB/s took %v (%.0f kB/s of frames); a->b %+v", took, float64(s.Bytes)/took.Seconds()/1000, s)
	if took < 2*time.Second || took > 6*time.Second {
		t.Errorf("2 MiB at 1 MB/s took %v, want about 2.2 s", took)
	}
}
