package bond

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/owner"
	"github.com/multilink/multilink/internal/testsupport"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// golden compares got with testdata/name.golden (or rewrites it with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if want := testsupport.Golden(t, path, []byte(got), *update); got != string(want) {
		t.Errorf("%s differs\n--- want\n%s--- got\n%s", path, want, got)
	}
}

// testMark is the owner mark the privileged tests set on their bonds.
const testMark owner.Mark = "multilink:0123456789abcdef"

// specBond is the spec's client bond: mode 1, primary tap1, ARP monitoring
// of 10.8.0.254 every 100 ms, arp_validate 5, fail_over_mac 1.
func specBond() Spec {
	return Spec{
		Name:    "bond0",
		Address: netip.MustParsePrefix("10.8.0.253/24"),
		Slaves:  []string{"tap1", "tap2"},
		Params: api.BondParams{
			Mode:        testsupport.Ptr(1),
			Primary:     testsupport.Ptr("tap1"),
			ArpInterval: testsupport.Ptr(100),
			ArpIPTarget: []netip.Addr{netip.MustParseAddr("10.8.0.254")},
			ArpValidate: testsupport.Ptr(5),
			FailOverMac: testsupport.Ptr(1),
		},
	}
}

// created is a fake with the spec bond made and its transcript cleared.
func created(t *testing.T) (*fakeNL, *Kernel) {
	t.Helper()
	f := newFake("tap1", "tap2")
	k := NewKernel(f, nil)
	if err := k.Create(context.Background(), specBond()); err != nil {
		t.Fatalf("create: %v", err)
	}
	f.ops = nil
	return f, k
}

func info(t *testing.T, k *Kernel) api.BondInfo {
	t.Helper()
	i, err := k.Info(context.Background(), "bond0")
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	return i
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func TestRawAttrNumbers(t *testing.T) {
	// linux/if_link.h: enum { IFLA_BOND_UNSPEC, IFLA_BOND_MODE, ... }.
	if attrPeerNotifDelay != 28 || attrMissedMax != 30 {
		t.Fatalf("IFLA_BOND_PEER_NOTIF_DELAY = %d, IFLA_BOND_MISSED_MAX = %d; want 28, 30", attrPeerNotifDelay, attrMissedMax)
	}
}

func TestCreate(t *testing.T) {
	f := newFake("tap1", "tap2")
	k := NewKernel(f, nil)
	if err := k.Create(context.Background(), specBond()); err != nil {
		t.Fatalf("create: %v", err)
	}
	golden(t, "create", f.transcript())
	golden(t, "create_info", jsonOf(t, info(t, k)))
}

func TestCreateRaw(t *testing.T) {
	f := newFake("tap1", "tap2")
	k := NewKernel(f, nil)
	s := specBond()
	s.Params.ArpMissedMax = testsupport.Ptr(3)
	s.Params.NumGratArp = testsupport.Ptr(2)
	s.Params.PrimaryReselect = testsupport.Ptr(2)
	s.Params.AllSlavesActive = testsupport.Ptr(1)
	s.Params.PeerNotifDelay = testsupport.Ptr(0) // without MII monitoring: not sent
	if err := k.Create(context.Background(), s); err != nil {
		t.Fatalf("create: %v", err)
	}
	golden(t, "create_raw", f.transcript())
	p := info(t, k).Params
	if *p.ArpMissedMax != 3 || *p.NumGratArp != 2 || *p.PrimaryReselect != 2 || *p.AllSlavesActive != 1 {
		t.Errorf("read back %s", jsonOf(t, p))
	}
}

// TestCreateRollback fails each change a Create makes in turn and checks
// that nothing is left: no bond, no slave with a master.
func TestCreateRollback(t *testing.T) {
	ok := newFake("tap1", "tap2")
	if err := NewKernel(ok, nil).Create(context.Background(), specBond()); err != nil {
		t.Fatal(err)
	}
	for _, step := range ok.ops {
		t.Run(step, func(t *testing.T) {
			f := newFake("tap1", "tap2")
			f.failOn, f.failErr = step, unix.EIO
			err := NewKernel(f, nil).Create(context.Background(), specBond())
			if !errors.Is(err, unix.EIO) {
				t.Fatalf("create: %v, want EIO", err)
			}
			if f.byName("bond0") != nil {
				t.Errorf("bond0 left behind:\n%s", f.transcript())
			}
			for _, l := range f.links {
				if l.master != 0 {
					t.Errorf("%s left enslaved:\n%s", l.name, f.transcript())
				}
			}
			if step == "master tap2 bond0" {
				golden(t, "create_rollback", f.transcript()+"=> "+err.Error()+"\n")
			}
		})
	}
}

func TestCreateRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(f *fakeNL)
		spec  func(s *Spec)
		kind  errkind.Kind
	}{
		{"bond exists", func(f *fakeNL) { f.addLink("bond0", "veth") }, nil, errkind.KindConflict},
		{"slave missing", nil, func(s *Spec) { s.Slaves = []string{"tap1", "tap3"}; s.Params.Primary = testsupport.Ptr("tap1") }, errkind.KindNotFound},
		{"slave enslaved", func(f *fakeNL) { f.byName("tap2").master = f.addLink("br0", "veth").index }, nil, errkind.KindConflict},
		{"slave twice", nil, func(s *Spec) { s.Slaves = []string{"tap1", "tap1"} }, errkind.KindInvalid},
		{"bad name", nil, func(s *Spec) { s.Name = "bond 0" }, errkind.KindInvalid},
		{"primary not a slave", nil, func(s *Spec) { s.Params.Primary = testsupport.Ptr("tap3") }, errkind.KindInvalid},
		{"arp and miimon", nil, func(s *Spec) { s.Params.Miimon = testsupport.Ptr(100) }, errkind.KindInvalid},
		{"arp_validate with miimon", nil, func(s *Spec) { s.Params.ArpInterval = testsupport.Ptr(0); s.Params.Miimon = testsupport.Ptr(100) }, errkind.KindInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake("tap1", "tap2")
			if tc.setup != nil {
				tc.setup(f)
			}
			s := specBond()
			if tc.spec != nil {
				tc.spec(&s)
			}
			err := NewKernel(f, nil).Create(context.Background(), s)
			if errkind.KindOf(err) != tc.kind {
				t.Errorf("create: %v (kind %d), want kind %d", err, errkind.KindOf(err), tc.kind)
			}
			if len(f.ops) > 0 {
				t.Errorf("changes made:\n%s", f.transcript())
			}
		})
	}
}

func TestCreateOldKernel(t *testing.T) {
	f := newFake("tap1", "tap2")
	f.oldKernel = true
	s := specBond()
	s.Params.ArpMissedMax = testsupport.Ptr(3)
	err := NewKernel(f, nil).Create(context.Background(), s)
	if errkind.KindOf(err) != errkind.KindInvalid || errkind.FieldOf(err) != "arp_missed_max" || !errors.Is(err, ErrNotSupported) {
		t.Fatalf("create: %v, want invalid arp_missed_max, not supported", err)
	}
	if f.byName("bond0") != nil {
		t.Errorf("bond0 left behind")
	}
	golden(t, "create_old_kernel", f.transcript()+"=> "+err.Error()+"\n")
}

func TestCreateNoBondingDriver(t *testing.T) {
	f := newFake("tap1", "tap2")
	f.failOn, f.failErr = "add bond", unix.EOPNOTSUPP
	err := NewKernel(f, nil).Create(context.Background(), specBond())
	if !errors.Is(err, ErrNotSupported) || errkind.KindOf(err) != errkind.KindUnsupported || !strings.Contains(err.Error(), "kernel has no bonding driver") {
		t.Fatalf("create: %v", err)
	}
}

// TestSetSpecPut applies the spec's PUT bond_params example.
func TestSetSpecPut(t *testing.T) {
	f, k := created(t)
	if err := k.Set(context.Background(), "bond0", testsupport.Decode[api.BondParams](t, `{"primary": "tap2", "arp_interval": "50"}`)); err != nil {
		t.Fatalf("set: %v", err)
	}
	golden(t, "set_put", f.transcript())
	i := info(t, k)
	if *i.Params.Primary != "tap2" || i.Active != "tap2" || *i.Params.ArpInterval != 50 {
		t.Errorf("after set: primary %s, active %s, arp_interval %d", *i.Params.Primary, i.Active, *i.Params.ArpInterval)
	}
}

func TestSetModeChange(t *testing.T) {
	f, k := created(t)
	if err := k.Set(context.Background(), "bond0", testsupport.Decode[api.BondParams](t, `{"bonding_mode": "balance-rr"}`)); err != nil {
		t.Fatalf("set: %v", err)
	}
	golden(t, "set_mode", f.transcript())
	golden(t, "set_mode_info", jsonOf(t, info(t, k)))
}

func TestSetModeChangeTLB(t *testing.T) {
	f, k := created(t)
	// balance-tlb has no ARP monitoring: the kernel turns MII monitoring
	// on by itself; the primary is restored after the cycle.
	if err := k.Set(context.Background(), "bond0", testsupport.Decode[api.BondParams](t, `{"bonding_mode": 5, "updelay": 200}`)); err != nil {
		t.Fatalf("set: %v", err)
	}
	golden(t, "set_mode_tlb", f.transcript())
	i := info(t, k)
	if *i.Params.Mode != 5 || *i.Params.Miimon != 100 || *i.Params.ArpInterval != 0 || *i.Params.Updelay != 200 || *i.Params.Primary != "tap1" || !i.Up {
		t.Errorf("after set: %s", jsonOf(t, i))
	}
}

func TestSetFailOverMac(t *testing.T) {
	f, k := created(t)
	if err := k.Set(context.Background(), "bond0", testsupport.Decode[api.BondParams](t, `{"fail_over_mac": "follow", "arp_interval": 50}`)); err != nil {
		t.Fatalf("set: %v", err)
	}
	golden(t, "set_fail_over_mac", f.transcript())
	i := info(t, k)
	if *i.Params.FailOverMac != 2 || *i.Params.ArpInterval != 50 || i.Active != "tap1" || !i.Up {
		t.Errorf("after set: %s", jsonOf(t, i))
	}
}

// TestSetCycleRecovers fails the cycle half way: the slaves are enslaved
// again and the bond is up again.
func TestSetCycleRecovers(t *testing.T) {
	f, k := created(t)
	f.failOn, f.failErr = "modify bond0 mode=0", unix.EIO
	err := k.Set(context.Background(), "bond0", testsupport.Decode[api.BondParams](t, `{"bonding_mode": 0}`))
	if !errors.Is(err, unix.EIO) {
		t.Fatalf("set: %v, want EIO", err)
	}
	golden(t, "set_mode_recover", f.transcript()+"=> "+err.Error()+"\n")
	f.failOn = ""
	i := info(t, k)
	if strings.Join(i.Slaves, ",") != "tap1,tap2" || !i.Up || *i.Params.Mode != 1 {
		t.Errorf("after failed set: %s", jsonOf(t, i))
	}
}

func TestSetRaw(t *testing.T) {
	f, k := created(t)
	if err := k.Set(context.Background(), "bond0", testsupport.Decode[api.BondParams](t, `{"arp_missed_max": 5, "num_grat_arp": 3}`)); err != nil {
		t.Fatalf("set: %v", err)
	}
	golden(t, "set_raw", f.transcript())
	if p := info(t, k).Params; *p.ArpMissedMax != 5 || *p.NumGratArp != 3 {
		t.Errorf("read back arp_missed_max %d, num_grat_arp %d", *p.ArpMissedMax, *p.NumGratArp)
	}
}

func TestSetMiimonPeerNotifDelay(t *testing.T) {
	f, k := created(t)
	p := testsupport.Decode[api.BondParams](t, `{"arp_interval": 0, "miimon": 100, "arp_validate": 0, "peer_notif_delay": 300, "downdelay": 200}`)
	if err := k.Set(context.Background(), "bond0", p); err != nil {
		t.Fatalf("set: %v", err)
	}
	golden(t, "set_miimon", f.transcript())
	if p := info(t, k).Params; *p.Miimon != 100 || *p.ArpInterval != 0 || *p.PeerNotifDelay != 300 || *p.Downdelay != 200 {
		t.Errorf("read back %s", jsonOf(t, p))
	}
}

func TestSetPrimaryClear(t *testing.T) {
	f, k := created(t)
	if err := k.Set(context.Background(), "bond0", testsupport.Decode[api.BondParams](t, `{"primary": ""}`)); err != nil {
		t.Fatalf("set: %v", err)
	}
	golden(t, "set_primary_clear", f.transcript())
	if p := info(t, k).Params; *p.Primary != "" {
		t.Errorf("primary %q after clearing", *p.Primary)
	}
}

func TestSetActiveSlave(t *testing.T) {
	f, k := created(t)
	if err := k.Set(context.Background(), "bond0", testsupport.Decode[api.BondParams](t, `{"primary": "", "active_slave": "tap2"}`)); err != nil {
		t.Fatalf("set: %v", err)
	}
	golden(t, "set_active", f.transcript())
	if i := info(t, k); i.Active != "tap2" {
		t.Errorf("active %q", i.Active)
	}
}

// TestSetNothing: unchanged mode and fail_over_mac are not sent (the
// kernel refuses them while the bond has slaves), nor is an empty set.
func TestSetNothing(t *testing.T) {
	f, k := created(t)
	for _, p := range []string{`{}`, `{"bonding_mode": "active-backup", "fail_over_mac": 1}`} {
		if err := k.Set(context.Background(), "bond0", testsupport.Decode[api.BondParams](t, p)); err != nil {
			t.Fatalf("set %s: %v", p, err)
		}
	}
	if len(f.ops) > 0 {
		t.Errorf("changes made:\n%s", f.transcript())
	}
}

func TestSetInvalid(t *testing.T) {
	for _, tc := range []struct {
		name, params, field string
	}{
		{"primary not a slave", `{"primary": "tap3"}`, "primary"},
		{"active_slave not a slave", `{"active_slave": "eth0"}`, "active_slave"},
		{"arp and miimon", `{"miimon": 100}`, "arp_interval"},
		{"targets missing", `{"arp_ip_target": []}`, "arp_ip_target"},
		{"updelay with arp", `{"updelay": 200}`, "updelay"},
		{"peer_notif_delay with arp", `{"peer_notif_delay": 200}`, "peer_notif_delay"},
		{"arp_validate with miimon", `{"arp_interval": 0, "miimon": 100, "arp_validate": 5}`, "arp_validate"},
		{"arp in 802.3ad", `{"bonding_mode": "802.3ad", "arp_interval": 100}`, "arp_interval"},
		{"arp_missed_max in 802.3ad", `{"bonding_mode": "802.3ad", "arp_missed_max": 3}`, "arp_missed_max"},
		{"primary in balance-rr", `{"bonding_mode": 0, "primary": "tap2"}`, "primary"},
		{"active_slave in balance-xor", `{"bonding_mode": 2, "active_slave": "tap2"}`, "active_slave"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, k := created(t)
			err := k.Set(context.Background(), "bond0", testsupport.Decode[api.BondParams](t, tc.params))
			if errkind.KindOf(err) != errkind.KindInvalid || errkind.FieldOf(err) != tc.field {
				t.Errorf("set %s: %v (kind %d, field %q), want invalid %s", tc.params, err, errkind.KindOf(err), errkind.FieldOf(err), tc.field)
			}
			if len(f.ops) > 0 {
				t.Errorf("changes made:\n%s", f.transcript())
			}
		})
	}
}

func TestSetOldKernel(t *testing.T) {
	f, k := created(t)
	f.oldKernel = true
	if p := info(t, k).Params; *p.ArpMissedMax != 2 || *p.PeerNotifDelay != 0 {
		t.Errorf("old kernel reads arp_missed_max %d, peer_notif_delay %d; want 2, 0", *p.ArpMissedMax, *p.PeerNotifDelay)
	}
	err := k.Set(context.Background(), "bond0", testsupport.Decode[api.BondParams](t, `{"arp_missed_max": 3}`))
	if errkind.KindOf(err) != errkind.KindInvalid || !errors.Is(err, ErrNotSupported) {
		t.Errorf("set: %v, want invalid, not supported", err)
	}
	if len(f.ops) > 0 {
		t.Errorf("changes made:\n%s", f.transcript())
	}
}

// TestSetKernelRefuses: a value the kernel refuses is errkind.KindInvalid.
func TestSetKernelRefuses(t *testing.T) {
	f, k := created(t)
	f.failOn, f.failErr = "modify bond0 arp_interval=50", unix.EINVAL
	err := k.Set(context.Background(), "bond0", testsupport.Decode[api.BondParams](t, `{"arp_interval": 50}`))
	if errkind.KindOf(err) != errkind.KindInvalid || errkind.FieldOf(err) != "arp_interval" || !errors.Is(err, unix.EINVAL) {
		t.Errorf("set: %v, want invalid arp_interval wrapping EINVAL", err)
	}
}

func TestSetMissing(t *testing.T) {
	f := newFake("tap1")
	err := NewKernel(f, nil).Set(context.Background(), "bond0", testsupport.Decode[api.BondParams](t, `{"arp_interval": 50}`))
	if errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("set: %v, want not found", err)
	}
}

func TestDelete(t *testing.T) {
	f, k := created(t)
	if err := k.Delete(context.Background(), "bond0"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	golden(t, "delete", f.transcript())
	if f.byName("bond0") != nil {
		t.Errorf("bond0 still there")
	}
	for _, n := range []string{"tap1", "tap2"} {
		if l := f.byName(n); l == nil || l.master != 0 || l.up {
			t.Errorf("%s after delete: %+v", n, l)
		}
	}
}

func TestDeleteRefused(t *testing.T) {
	f, k := created(t)
	if err := k.Delete(context.Background(), "bond9"); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("delete bond9: %v, want not found", err)
	}
	if err := k.Delete(context.Background(), "tap1"); errkind.KindOf(err) != errkind.KindInvalid {
		t.Errorf("delete tap1: %v, want invalid", err)
	}
	if _, err := k.Info(context.Background(), "tap1"); errkind.KindOf(err) != errkind.KindInvalid {
		t.Errorf("info tap1: %v, want invalid", err)
	}
	if len(f.ops) > 0 {
		t.Errorf("changes made:\n%s", f.transcript())
	}
}

// TestInfo maps every kernel value, set away from its default.
func TestInfo(t *testing.T) {
	f := newFake("tap1", "tap2", "tap3")
	b := f.addLink("bond1", "bond")
	b.up = true
	b.bond = &fakeBond{
		mode: 1, miimon: 0, arpInterval: 250, arpValidate: 6, missedMax: 4,
		primaryReselect: 1, failOverMac: 2, numPeerNotif: 7, allSlavesActive: 1,
		targets: []net.IP{net.ParseIP("10.8.0.254").To4(), net.ParseIP("10.8.0.1").To4()},
		primary: "tap3",
	}
	for _, n := range []string{"tap3", "tap1"} {
		s := f.byName(n)
		s.master, s.up = b.index, true
	}
	b.bond.active = f.byName("tap1").index
	f.interrupts = 2 // two interrupted dumps are retried
	i, err := NewKernel(f, nil).Info(context.Background(), "bond1")
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	golden(t, "info", jsonOf(t, i))

	f.interrupts = dumpAttempts
	if _, err := NewKernel(f, nil).Info(context.Background(), "bond1"); err == nil {
		t.Errorf("info with every dump interrupted: no error")
	}
}

// TestInfoOtherNamespace: a raw socket that sees another link of that name
// (another namespace) is an error, not a wrong answer.
func TestInfoOtherNamespace(t *testing.T) {
	f, _ := created(t)
	other := newFake("eth0", "tap1", "tap2")
	if err := NewKernel(other, nil).Create(context.Background(), specBond()); err != nil {
		t.Fatal(err)
	}
	k := NewKernel(struct{ Netlink }{f}, nil)
	k.raw = other
	if _, err := k.Info(context.Background(), "bond0"); err == nil || !strings.Contains(err.Error(), "different network namespaces") {
		t.Errorf("info: %v, want a namespace mismatch", err)
	}
}

// TestSlaveOrder: Info and the reconfigure cycle keep the Spec's order,
// which the kernel does not list.
func TestSlaveOrder(t *testing.T) {
	f := newFake("tap1", "tap2")
	k := NewKernel(f, nil)
	s := specBond()
	s.Slaves = []string{"tap2", "tap1"}
	if err := k.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(info(t, k).Slaves, ","); got != "tap2,tap1" {
		t.Errorf("slaves %s, want the Spec's order tap2,tap1", got)
	}
	f.ops = nil
	if err := k.Set(context.Background(), "bond0", testsupport.Decode[api.BondParams](t, `{"fail_over_mac": 0}`)); err != nil {
		t.Fatal(err)
	}
	golden(t, "set_order", f.transcript())
	// Another Kernel (a restart) does not know the order: ifindex order.
	if got := strings.Join(info(t, NewKernel(f, nil)).Slaves, ","); got != "tap1,tap2" {
		t.Errorf("slaves %s, want ifindex order tap1,tap2", got)
	}
}
