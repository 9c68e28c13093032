package probe

import (
	"context"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/multilink/multilink/internal/nstest"
)

// TestSiblingMACTaken: a frame that reaches a probed link addressed to
// another probed link's MAC (the hub's bridge sends there what it learned
// from a kernel bond with fail_over_mac 1 at the moment of a switch) is
// taken by the gateway, real ICMP over a veth; it is not while the MAC
// is nobody's among the probed links, before the sibling is added and
// after it is removed.
func TestSiblingMACTaken(t *testing.T) {
	nstest.RequireAdmin(t)
	nstest.RequireCommand(t, "ping")
	hub, gw := nstest.New(t, "smhub"), nstest.New(t, "smgw")
	nstest.Veth(t, hub, "h1", "10.8.0.254/24", gw, "l1", "10.8.0.253/24")
	nstest.Veth(t, hub, "h2", "", gw, "l2", "") // the sibling link: its MAC only
	l2, err := gw.Handle.LinkByName("l2")
	if err != nil {
		t.Fatal(err)
	}
	h1, err := hub.Handle.LinkByName("h1")
	if err != nil {
		t.Fatal(err)
	}
	// The hub addresses the gateway by the sibling's MAC.
	if err := hub.Handle.NeighSet(&netlink.Neigh{LinkIndex: h1.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
		IP: mustAddr(t, "10.8.0.253").AsSlice(), HardwareAddr: l2.Attrs().HardwareAddr}); err != nil {
		t.Fatal(err)
	}
	answers := func() bool {
		return hub.Command(t.Context(), "ping", "-c", "2", "-i", "0.2", "-W", "1", "10.8.0.253").Run() == nil
	}
	m, err := NewMonitor(Options{NetNS: gw.Path()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close monitor: %v", err)
		}
	})
	ctx := context.Background()
	if err := m.Add(ctx, LinkSpec{Bond: "bond0", Link: "l1", Target: hubIP, Active: true}); err != nil {
		t.Fatal(err)
	}
	if answers() {
		t.Fatalf("the gateway answered a frame to %s before any probed link had that MAC", l2.Attrs().HardwareAddr)
	}
	if err := m.Add(ctx, LinkSpec{Bond: "bond0", Link: "l2", Target: hubIP}); err != nil {
		t.Fatal(err)
	}
	if !answers() {
		t.Fatalf("frames to the probed sibling's MAC %s on l1: not taken", l2.Attrs().HardwareAddr)
	}
	if err := m.Remove("l2"); err != nil {
		t.Fatal(err)
	}
	if answers() {
		t.Fatalf("frames to %s still taken after its link was removed", l2.Attrs().HardwareAddr)
	}
}
