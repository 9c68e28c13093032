package hub

import (
	"context"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
)

const testMark = "multilink:0123456789abcdef"

// TestStartAdoptsBridge: a start over the bridge and TAPs an earlier run
// left (ours by their mark) takes them over: no new bridge, the desired
// address replaces one that changed while no daemon ran; Leave keeps it
// all.
func TestStartAdoptsBridge(t *testing.T) {
	h, n, tun, _ := newHub(t)
	h.opts.Mark = testMark
	n.AddLink(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0", Alias: testMark}})
	n.AddAddr("br0", "10.8.9.254/24")
	for _, tap := range []string{"tap1", "tap2"} {
		n.AddLink(&netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: tap, Alias: testMark}})
	}
	ctx := context.Background()
	if _, err := h.Start(ctx, testsupport.SpecServer(t)); err != nil {
		t.Fatal(err)
	}
	want := "addr br0 10.8.0.254/24|addrdel br0 10.8.9.254/24|up br0|tunnel start tap1|master tap1 br0|tunnel start tap2|master tap2 br0"
	if got := strings.Join(n.Ops(), "|"); got != want {
		t.Errorf("ops:\n got %s\nwant %s", got, want)
	}
	if got := strings.Join(h.Interfaces(), " "); got != "br0 tap1 tap2" {
		t.Errorf("interfaces %q", got)
	}
	if err := h.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if len(h.Interfaces()) != 0 || len(n.Links()) != 3 || len(tun.running) != 2 {
		t.Errorf("after Leave: interfaces %v, links %v, tunnels %v: want nothing of ours touched", h.Interfaces(), n.Links(), tun.running)
	}
}

// TestStartRefusesForeignBridge: a bridge of the same name without our
// mark is someone else's.
func TestStartRefusesForeignBridge(t *testing.T) {
	h, n, _, _ := newHub(t)
	h.opts.Mark = testMark
	n.AddLink(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0", Alias: "multilink:ffffffffffffffff"}})
	if _, err := h.Start(context.Background(), testsupport.SpecServer(t)); errkind.KindOf(err) != errkind.KindConflict {
		t.Fatalf("start over another daemon's bridge: %v, want conflict", err)
	}
}
