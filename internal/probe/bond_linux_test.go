package probe

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/bond"
	"github.com/multilink/multilink/internal/nstest"
)

// These tests need the kernel's bonding driver or netem: they run in the
// kernel lab (a skip on this project's CI host, a failure in the lab).

// withBond puts the gateway's TAPs into a kernel bond0 with the spec's
// settings and the given fail_over_mac, address 10.8.0.253/24, and
// returns the driver that made it.
func (w *world) withBond(t *testing.T, failOverMac int) *bond.Kernel {
	t.Helper()
	probe := netlink.NewLinkBond(netlink.NewLinkAttrs())
	probe.Name = "bondprobe0"
	err := w.gw.Handle.LinkAdd(probe)
	if err == nil {
		_ = w.gw.Handle.LinkDel(probe)
	}
	nstest.Require(t, err == nil, "kernel has no bonding driver (%v)", err)
	h, err := bond.NewHandleAt(netns.NsHandle(w.gw.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	k := bond.NewKernel(h, nil)
	var p api.BondParams
	body := fmt.Sprintf(`{"bonding_mode":"1","primary":"tap1","arp_ip_target":"10.8.0.254","arp_interval":"100","fail_over_mac":"%d","arp_validate":"5"}`, failOverMac)
	if err := p.UnmarshalJSON([]byte(body)); err != nil {
		t.Fatal(err)
	}
	spec := bond.Spec{Name: "bond0", Address: netip.MustParsePrefix("10.8.0.253/24"), Slaves: []string{"tap1", "tap2"}, Params: p}
	if err := k.Create(context.Background(), spec); err != nil {
		t.Fatalf("create bond0: %v", err)
	}
	t.Cleanup(func() { _ = k.Delete(context.Background(), "bond0") })
	return k
}

// hubView is what the hub knows of the gateway's bond.
type hubView struct{ fdbPort, neighMAC string }

// hubSees reads the hub's bridge forwarding entry for mac and its
// neighbour entry for the bond's address.
func (w *world) hubSees(t *testing.T, mac string) hubView {
	t.Helper()
	var v hubView
	for _, line := range strings.Split(w.hub.Run(t, "bridge", "fdb", "show", "br", "br0"), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == mac && f[1] == "dev" {
			v.fdbPort = f[2]
		}
	}
	out := w.hub.Run(t, "ip", "-4", "neigh", "show", "10.8.0.253", "dev", "br0")
	if f := strings.Fields(out); len(f) >= 3 && f[1] == "lladdr" {
		v.neighMAC = f[2]
	}
	return v
}

// TestProbeBackupLeavesHubAlone: probing the backup slave for seconds
// never moves the hub bridge's forwarding entry for the bond's MAC nor the
// hub's neighbour entry for the bond's address, with fail_over_mac none
// (every slave carries the bond's MAC) and active (each keeps its own).
// Replies on the inactive slave, which the bond drops, are measured.
func TestProbeBackupLeavesHubAlone(t *testing.T) {
	for _, fom := range []int{0, 1} {
		t.Run(api.FailOverMacNames[fom], func(t *testing.T) {
			w := newWorld(t)
			k := w.withBond(t, fom)
			nstest.RequireCommand(t, "bridge")
			// Traffic from the hub to the bond teaches the hub both
			// entries, once the bond runs on its primary: with
			// fail_over_mac 1 the bond's MAC is the active slave's, and
			// the bond may come up on tap2 first (tap1's tunnel not yet
			// through), so the MAC is read again each round. A neighbour
			// entry for an earlier MAC is deleted: the hub would ignore
			// the bond's gratuitous ARP within its locktime and keep
			// sending to the old MAC until the entry fails.
			deadline := time.Now().Add(30 * time.Second)
			var before hubView
			var bondMAC, active string
			for time.Now().Before(deadline) {
				info, err := k.Info(context.Background(), "bond0")
				if err != nil {
					t.Fatal(err)
				}
				bondLink, err := w.gw.Handle.LinkByName("bond0")
				if err != nil {
					t.Fatal(err)
				}
				active, bondMAC = info.Active, bondLink.Attrs().HardwareAddr.String()
				if active != "tap1" {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				_, _ = w.hub.Command(context.Background(), "ping", "-c", "1", "-W", "1", "10.8.0.253").CombinedOutput()
				if before = w.hubSees(t, bondMAC); before.fdbPort == "tap1" && before.neighMAC == bondMAC {
					break
				}
				if before.neighMAC != "" && before.neighMAC != bondMAC {
					_, _ = w.hub.Command(context.Background(), "ip", "neigh", "del", "10.8.0.253", "dev", "br0").CombinedOutput()
				}
			}
			if active != "tap1" || before.fdbPort != "tap1" || before.neighMAC != bondMAC {
				t.Fatalf("hub before probing: bond active on %q, fdb %s on %q, neighbour %q; want tap1, tap1 and %s", active, bondMAC, before.fdbPort, before.neighMAC, bondMAC)
			}
			m := w.monitor(t, Options{})
			if err := m.SetIntervals(DefaultInterval, DefaultInterval, DefaultInterval); err != nil { // the backup at the active rate: the worst case
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second)
			s2 := linkOf(t, m, "tap2")
			if s2.Counters.ProbeReplies < 50 {
				t.Errorf("inactive tap2: %d probe replies in 3 s at 20 ms: the bond's drop hid them", s2.Counters.ProbeReplies)
			}
			after := w.hubSees(t, bondMAC)
			if after != before {
				t.Errorf("hub after probing tap2: %+v, before: %+v", after, before)
			}
			t.Logf("fail_over_mac %d: tap2 %d replies, srtt %v; hub fdb %s on %s, neighbour %s", fom,
				s2.Counters.ProbeReplies, s2.RTTSmoothed, bondMAC, after.fdbPort, after.neighMAC)
		})
	}
}

// TestRTTTracksDelay: a netem delay added to an underlay shows in that
// link's measured RTT within 10 %. The delay is measured against the other
// link at the same time (both probed every 20 ms), so that the VM's own
// slowness, which varies, cancels out.
func TestRTTTracksDelay(t *testing.T) {
	w := newWorld(t)
	m := w.monitor(t, Options{})
	if err := m.SetIntervals(DefaultInterval, DefaultInterval, DefaultInterval); err != nil {
		t.Fatal(err)
	}
	waitReplies(t, m, "tap1", 50, 20*time.Second)
	waitReplies(t, m, "tap2", 50, 20*time.Second)
	const delay = 50 * time.Millisecond
	out, err := w.hub.Command(context.Background(), "tc", "qdisc", "add", "dev", "u1", "root", "netem", "delay", "50ms").CombinedOutput()
	nstest.Require(t, err == nil, "no netem: %v %s", err, out)
	n := linkOf(t, m, "tap1").Counters.ProbeReplies
	waitReplies(t, m, "tap1", n+150, 30*time.Second) // the smoothed RTT settles
	var added []time.Duration
	for i := 0; i < 10; i++ { // ten readings over a second, the median
		added = append(added, linkOf(t, m, "tap1").RTTSmoothed-linkOf(t, m, "tap2").RTTSmoothed)
		time.Sleep(100 * time.Millisecond)
	}
	slices.Sort(added)
	got := added[len(added)/2]
	if d := got - delay; d < -delay/10 || d > delay/10 {
		t.Errorf("tap1's RTT exceeds tap2's by %v with a 50 ms delay on tap1's underlay, want 50 ms +- 10%% (readings %v)", got, added)
	}
	t.Logf("+50 ms netem on u1: tap1's smoothed RTT exceeds tap2's by %v (%.1f%% off)", got, 100*float64(got-delay)/float64(delay))
}
