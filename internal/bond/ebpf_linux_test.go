package bond

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/bpf"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/tcattach"
	"github.com/multilink/multilink/internal/testsupport"
)

// ebpfLab is the spec's topology with an eBPF bond on the gateway.
type ebpfLab struct {
	gw, hub *nstest.NS
	e       *EBPF
}

func newEBPFLab(t *testing.T, mode string) *ebpfLab {
	t.Helper()
	gw, hub := newTopology(t, false)
	e, err := NewEBPF(gw.Handle, netns.NsHandle(gw.Fd()), mode, "", slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &ebpfLab{gw: gw, hub: hub, e: e}
}

// ping pings addr from ns until one answer (bounded).
func ping(t *testing.T, ns *nstest.NS, addr string) {
	t.Helper()
	var out []byte
	for i := 0; i < 10; i++ {
		var err error
		if out, err = ns.Command(context.Background(), "ping", "-c", "1", "-W", "1", addr).CombinedOutput(); err == nil {
			return
		}
	}
	t.Fatalf("ping %s from %s: no answer in 10 tries\n%s", addr, ns.Name, out)
}

// counters sums the bond's per-CPU counters.
func (l *ebpfLab) counters(t *testing.T) bpf.BondBondCounters {
	t.Helper()
	peer, err := l.gw.Handle.LinkByName(peerName("bond0"))
	if err != nil {
		t.Fatal(err)
	}
	var per []bpf.BondBondCounters
	if err := l.e.obj.Counters.Lookup(uint32(peer.Attrs().Index), &per); err != nil {
		t.Fatal(err)
	}
	var c bpf.BondBondCounters
	for _, p := range per {
		c.OutFrames += p.OutFrames
		c.InFrames += p.InFrames
		c.InGrace += p.InGrace
		c.DroppedBackup += p.DroppedBackup
		c.DroppedNone += p.DroppedNone
	}
	return c
}

// hubPort is the hub bridge's port that received frames from mac.
func (l *ebpfLab) hubPort(t *testing.T, mac string) string {
	t.Helper()
	for _, line := range strings.Split(l.hub.Run(t, "bridge", "fdb", "show", "br", "br0"), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == mac && f[1] == "dev" {
			return f[2]
		}
	}
	return ""
}

func TestEBPFBond(t *testing.T) {
	nstest.RequireCommand(t, "ping")
	nstest.RequireCommand(t, "bridge")
	for _, mode := range []string{tcattach.TCX, tcattach.Legacy} {
		t.Run(mode, func(t *testing.T) {
			l := newEBPFLab(t, mode)
			if mode == tcattach.TCX && !nstest.KernelAtLeast(t, 6, 6) {
				err := l.e.Create(context.Background(), specBond())
				if err == nil {
					t.Fatal("tcx attach before Linux 6.6 worked")
				}
				if _, e := l.gw.Handle.LinkByName("bond0"); e == nil {
					t.Error("bond0 left after the failed create")
				}
				return
			}
			ctx := context.Background()
			s := specBond()
			s.Mark = testMark
			if err := l.e.Create(ctx, s); err != nil {
				t.Fatalf("create: %v", err)
			}
			for _, name := range []string{"bond0", peerName("bond0")} {
				if l, err := l.gw.Handle.LinkByName(name); err != nil || l.Attrs().Alias != string(testMark) {
					t.Errorf("%s not marked as ours: %v %v", name, l, err)
				}
			}
			info, err := l.e.Info(ctx, "bond0")
			if err != nil || info.Driver != DriverEBPF || info.Active != "tap1" || !info.Up ||
				strings.Join(info.Slaves, ",") != "tap1,tap2" || *info.Params.ArpInterval != 100 {
				t.Fatalf("info %+v %v", info, err)
			}
			ping(t, l.gw, "10.8.0.254")
			ping(t, l.hub, "10.8.0.253")
			bondMAC := l.mac(t, "bond0")
			if p := l.hubPort(t, bondMAC); p != "hub1" {
				t.Errorf("hub learnt the bond on %q, want hub1", p)
			}
			st := l.counters(t)
			if st.OutFrames == 0 || st.InFrames == 0 {
				t.Errorf("counters %+v", st)
			}
			// The hub's broadcasts reach both members: the copy on tap2 is dropped.
			if st.DroppedBackup == 0 {
				t.Errorf("no frame dropped on the backup: %+v", st)
			}

			// Switch: one map write.
			start := time.Now()
			if err := l.e.Set(ctx, "bond0", testsupport.Decode[api.BondParams](t, `{"active_slave": "tap2"}`)); err != nil {
				t.Fatal(err)
			}
			t.Logf("switch took %v", time.Since(start))
			if info, _ := l.e.Info(ctx, "bond0"); info.Active != "tap2" {
				t.Fatalf("active %s after the switch", info.Active)
			}
			ping(t, l.gw, "10.8.0.254")
			if p := l.hubPort(t, bondMAC); p != "hub2" {
				t.Errorf("after the switch the hub has the bond on %q, want hub2", p)
			}
			ping(t, l.hub, "10.8.0.253")
			// primary acts too, and every parameter is stored and reported.
			if err := l.e.Set(ctx, "bond0", testsupport.Decode[api.BondParams](t, `{"primary": "tap1", "arp_interval": "50"}`)); err != nil {
				t.Fatal(err)
			}
			if info, _ := l.e.Info(ctx, "bond0"); info.Active != "tap1" || *info.Params.ArpInterval != 50 || *info.Params.Primary != "tap1" {
				t.Errorf("after primary tap1: %+v", info)
			}
			ping(t, l.gw, "10.8.0.254")
			// Bad parameters change nothing.
			for _, bad := range []string{`{"primary": "tap9"}`, `{"bonding_mode": "balance-rr"}`} {
				if err := l.e.Set(ctx, "bond0", testsupport.Decode[api.BondParams](t, bad)); errkind.KindOf(err) != errkind.KindInvalid {
					t.Errorf("%s: %v, want invalid", bad, err)
				}
			}
			if info, _ := l.e.Info(ctx, "bond0"); info.Active != "tap1" {
				t.Errorf("a refused change moved the bond to %s", info.Active)
			}

			if err := l.e.Delete(ctx, "bond0"); err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{"bond0", peerName("bond0")} {
				if _, err := l.gw.Handle.LinkByName(n); err == nil {
					t.Errorf("%s left after delete", n)
				}
			}
			for _, tap := range []string{"tap1", "tap2"} {
				lk, err := l.gw.Handle.LinkByName(tap)
				if err != nil {
					t.Fatal(err)
				}
				if fs, err := tcattach.Filters(l.gw.Handle, lk.Attrs().Index, ebpfFilter); err != nil || len(fs) != 0 {
					t.Errorf("%s: filters left %v %v", tap, fs, err)
				}
			}
			if n := countEntries(t, l.e); n != 0 {
				t.Errorf("%d map entries left", n)
			}
			if err := l.e.Delete(ctx, "bond0"); errkind.KindOf(err) != errkind.KindNotFound {
				t.Errorf("second delete: %v", err)
			}
		})
	}
}

func TestEBPFBondRefuses(t *testing.T) {
	l := newEBPFLab(t, tcattach.Auto)
	ctx := context.Background()
	s := specBond()
	s.Params = testsupport.Decode[api.BondParams](t, `{"bonding_mode": "balance-rr"}`)
	if err := l.e.Create(ctx, s); errkind.KindOf(err) != errkind.KindInvalid {
		t.Errorf("mode 0: %v, want invalid", err)
	}
	s = specBond()
	s.Slaves = []string{"tap1", "tap9"}
	if err := l.e.Create(ctx, s); errkind.KindOf(err) == errkind.KindInternal || err == nil {
		t.Errorf("missing slave: %v", err)
	}
	nstest.Veth(t, l.gw, "bond0", "", l.gw, "other0", "")
	if err := l.e.Create(ctx, specBond()); errkind.KindOf(err) != errkind.KindConflict {
		t.Errorf("bond0 taken: %v, want conflict", err)
	}
	for _, n := range []string{peerName("bond0")} {
		if _, err := l.gw.Handle.LinkByName(n); err == nil {
			t.Errorf("%s left after refused creates", n)
		}
	}
}

// TestEBPFBondRefusesStrangers: a TAP serves one eBPF bond only, and a
// primary or active slave that is not a member changes nothing.
func TestEBPFBondRefusesStrangers(t *testing.T) {
	l := newEBPFLab(t, tcattach.Auto)
	ctx := context.Background()
	if err := l.e.Create(ctx, specBond()); err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = l.e.Delete(ctx, "bond0") })
	s := specBond()
	s.Name = "bond1"
	s.Address = netip.MustParsePrefix("10.9.0.253/24")
	s.Slaves = []string{"tap2"}
	s.Params.Primary = testsupport.Ptr("tap2")
	if err := l.e.Create(ctx, s); errkind.KindOf(err) != errkind.KindConflict {
		t.Errorf("tap2 in a second bond: %v, want conflict", err)
	}
	if _, err := l.gw.Handle.LinkByName("bond1"); err == nil {
		t.Error("bond1 left after the refused create")
	}
	for _, body := range []string{`{"active_slave": "tap9"}`, `{"primary": "tap9"}`, `{"primary": "tap2", "active_slave": "tap9"}`} {
		if err := l.e.Set(ctx, "bond0", testsupport.Decode[api.BondParams](t, body)); errkind.KindOf(err) != errkind.KindInvalid {
			t.Errorf("set %s: %v, want invalid", body, err)
		}
		info, err := l.e.Info(ctx, "bond0")
		if err != nil || info.Active != "tap1" || *info.Params.Primary != "tap1" {
			t.Errorf("after set %s: active %q primary %v (%v), want tap1 unchanged", body, info.Active, info.Params.Primary, err)
		}
	}
	if err := l.e.Switch(ctx, "bond0", "tap9", 0); errkind.KindOf(err) != errkind.KindInvalid {
		t.Errorf("switch to tap9: %v, want invalid", err)
	}
}

func (l *ebpfLab) mac(t *testing.T, name string) string {
	t.Helper()
	lk, err := l.gw.Handle.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return lk.Attrs().HardwareAddr.String()
}

func countEntries(t *testing.T, e *EBPF) int {
	t.Helper()
	n := 0
	var k uint32
	var st bpf.BondBondState
	for it := e.obj.Bonds.Iterate(); it.Next(&k, &st); {
		n++
	}
	var per []bpf.BondBondCounters
	for it := e.obj.Counters.Iterate(); it.Next(&k, &per); {
		n++
	}
	var mb bpf.BondMember
	for it := e.obj.Members.Iterate(); it.Next(&k, &mb); {
		n++
	}
	return n
}
