package bond

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/testsupport"
)

// The kernel tests build the spec's topology in two fresh namespaces: the
// gateway's bond0 over tap1 and tap2 (veth pairs standing in for the TAPs)
// and, at the other ends, a hub bridge br0 with the ARP target 10.8.0.254,
// which answers the bond's ARP probes and floods them back to the backup
// slave, as the hub's bridge of TAP tunnels does.

// requireBonding probes for the bonding driver in ns: a skip outside the
// kernel lab, a failure inside it.
func requireBonding(t *testing.T, ns *nstest.NS) {
	t.Helper()
	a := netlink.NewLinkAttrs()
	a.Name = "probe0"
	probe := netlink.NewLinkBond(a)
	err := ns.Handle.LinkAdd(probe)
	if err == nil {
		_ = ns.Handle.LinkDel(probe)
	}
	nstest.Require(t, err == nil, "kernel has no bonding driver (%v)", err)
}

type lab struct {
	gw, hub *nstest.NS
	k       *Kernel
}

func newLab(t *testing.T) *lab {
	t.Helper()
	gw, hub := newTopology(t, true)
	h, err := NewHandleAt(netns.NsHandle(gw.Fd()))
	if err != nil {
		t.Fatalf("bond handle: %v", err)
	}
	t.Cleanup(h.Close)
	return &lab{gw: gw, hub: hub, k: NewKernel(h, slog.New(slog.NewTextHandler(t.Output(), nil)))}
}

// newTopology makes the gateway and hub namespaces, tap1 and tap2 (veth
// ends) in the gateway, their peers in the hub's bridge br0 10.8.0.254/24.
func newTopology(t *testing.T, bonding bool) (gw, hub *nstest.NS) {
	t.Helper()
	gw = nstest.New(t, "bondgw")
	if bonding {
		requireBonding(t, gw)
	}
	hub = nstest.New(t, "bondhub")
	ba := netlink.NewLinkAttrs()
	ba.Name = "br0"
	br := &netlink.Bridge{LinkAttrs: ba}
	if err := hub.Handle.LinkAdd(br); err != nil {
		t.Fatalf("add hub bridge: %v", err)
	}
	for _, n := range []string{"1", "2"} {
		nstest.Veth(t, gw, "tap"+n, "", hub, "hub"+n, "")
		port, err := hub.Handle.LinkByName("hub" + n)
		if err != nil {
			t.Fatal(err)
		}
		if err := hub.Handle.LinkSetMaster(port, br); err != nil {
			t.Fatalf("hub%s into br0: %v", n, err)
		}
	}
	addr, _ := netlink.ParseAddr("10.8.0.254/24")
	if err := hub.Handle.AddrAdd(br, addr); err != nil {
		t.Fatalf("address br0: %v", err)
	}
	if err := hub.Handle.LinkSetUp(br); err != nil {
		t.Fatalf("br0 up: %v", err)
	}
	return gw, hub
}

// create makes the spec's bond, marked as ours, with changes to its
// parameters.
func (l *lab) create(t *testing.T, change func(p *api.BondParams)) {
	t.Helper()
	s := specBond()
	s.Mark = testMark
	if change != nil {
		change(&s.Params)
	}
	if err := l.k.Create(context.Background(), s); err != nil {
		t.Fatalf("create: %v", err)
	}
}

func (l *lab) info(t *testing.T) api.BondInfo {
	t.Helper()
	i, err := l.k.Info(context.Background(), "bond0")
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	return i
}

func (l *lab) set(t *testing.T, params string) {
	t.Helper()
	if err := l.k.Set(context.Background(), "bond0", testsupport.Decode[api.BondParams](t, params)); err != nil {
		t.Fatalf("set %s: %v", params, err)
	}
}

// slavesUp waits until the bond's ARP monitor has both slaves up: a few
// ARP intervals, slower under QEMU TCG.
func (l *lab) slavesUp(t *testing.T) {
	t.Helper()
	d := testsupport.EventuallyState(t, 15*time.Second, "tap1 and tap2 up in bond0", func() (bool, string) {
		var state []string
		up := true
		for _, n := range []string{"tap1", "tap2"} {
			link, err := l.gw.Handle.LinkByName(n)
			if err != nil {
				return false, err.Error()
			}
			s, ok := link.Attrs().Slave.(*netlink.BondSlave)
			if !ok {
				return false, n + " is no bond slave"
			}
			state = append(state, fmt.Sprintf("%s %s", n, s.MiiStatus))
			up = up && s.MiiStatus == netlink.BondLinkUp
		}
		return up, strings.Join(state, ", ")
	})
	t.Logf("slaves up after %v", d)
}

// wantParams compares every parameter but the active slave (Info.Active).
func wantParams(t *testing.T, got api.BondParams, want api.BondParams) {
	t.Helper()
	got.ActiveSlave, want.ActiveSlave = nil, nil
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("parameters read back\n got %s\nwant %s", g, w)
	}
}

// specParams is every parameter of the spec's bond as the kernel has it
// after Create: the given ones plus the kernel's defaults.
func specParams() api.BondParams {
	return api.BondParams{
		Mode:            testsupport.Ptr(1),
		Primary:         testsupport.Ptr("tap1"),
		ArpInterval:     testsupport.Ptr(100),
		ArpIPTarget:     []netip.Addr{netip.MustParseAddr("10.8.0.254")},
		ArpValidate:     testsupport.Ptr(5),
		ArpMissedMax:    testsupport.Ptr(2),
		FailOverMac:     testsupport.Ptr(1),
		PrimaryReselect: testsupport.Ptr(0),
		NumGratArp:      testsupport.Ptr(1),
		PeerNotifDelay:  testsupport.Ptr(0),
		Miimon:          testsupport.Ptr(0),
		Updelay:         testsupport.Ptr(0),
		Downdelay:       testsupport.Ptr(0),
		AllSlavesActive: testsupport.Ptr(0),
	}
}

func TestKernelCreate(t *testing.T) {
	l := newLab(t)
	l.create(t, nil)
	i := l.info(t)
	if i.Driver != DriverKernel || !i.Up || strings.Join(i.Slaves, ",") != "tap1,tap2" {
		t.Errorf("info: %s", jsonOf(t, i))
	}
	wantParams(t, i.Params, specParams())
	bond, err := l.gw.Handle.LinkByName("bond0")
	if err != nil {
		t.Fatal(err)
	}
	if bond.Attrs().Alias != string(testMark) {
		t.Errorf("bond0 alias %q, want the mark %q", bond.Attrs().Alias, testMark)
	}
	addrs, err := l.gw.Handle.AddrList(bond, unix.AF_INET)
	if err != nil || len(addrs) != 1 || addrs[0].IPNet.String() != "10.8.0.253/24" {
		t.Errorf("bond0 addresses: %v %v", addrs, err)
	}
	l.slavesUp(t)
	if a := l.info(t).Active; a != "tap1" {
		t.Errorf("active slave %q, want the primary tap1", a)
	}
}

// TestKernelSetSpecPut applies the spec's PUT example: the active slave
// follows the new primary at once (KERNEL-LAB, Debian 6.1).
func TestKernelSetSpecPut(t *testing.T) {
	l := newLab(t)
	l.create(t, nil)
	l.slavesUp(t)
	l.set(t, `{"primary": "tap2", "arp_interval": "50"}`)
	i := l.info(t)
	if i.Active != "tap2" {
		t.Errorf("active slave %q right after primary tap2, want tap2", i.Active)
	}
	want := specParams()
	want.Primary, want.ArpInterval = testsupport.Ptr("tap2"), testsupport.Ptr(50)
	wantParams(t, i.Params, want)

	l.set(t, `{"primary": ""}`)
	if p := l.info(t).Params; *p.Primary != "" {
		t.Errorf("primary %q after clearing it", *p.Primary)
	}
}

func TestKernelRawParams(t *testing.T) {
	l := newLab(t)
	l.create(t, func(p *api.BondParams) { p.ArpMissedMax = testsupport.Ptr(3) })
	if p := l.info(t).Params; *p.ArpMissedMax != 3 {
		t.Errorf("arp_missed_max %d after create with 3", *p.ArpMissedMax)
	}
	l.set(t, `{"arp_missed_max": 5}`)
	if p := l.info(t).Params; *p.ArpMissedMax != 5 {
		t.Errorf("arp_missed_max %d after set 5", *p.ArpMissedMax)
	}
	// peer_notif_delay and updelay need MII monitoring; switching to it
	// makes the kernel drop arp_validate by itself.
	l.set(t, `{"arp_interval": 0, "miimon": 100, "peer_notif_delay": 300, "updelay": 200}`)
	want := specParams()
	want.ArpInterval, want.ArpValidate, want.ArpMissedMax = testsupport.Ptr(0), testsupport.Ptr(0), testsupport.Ptr(5)
	want.Miimon, want.PeerNotifDelay, want.Updelay = testsupport.Ptr(100), testsupport.Ptr(300), testsupport.Ptr(200)
	wantParams(t, l.info(t).Params, want)
}

func TestKernelModeChange(t *testing.T) {
	l := newLab(t)
	l.create(t, nil)
	l.set(t, `{"bonding_mode": "balance-rr"}`)
	i := l.info(t)
	want := specParams()
	want.Mode, want.Primary, want.ArpValidate = testsupport.Ptr(0), testsupport.Ptr(""), testsupport.Ptr(0) // the kernel resets arp_validate
	wantParams(t, i.Params, want)
	if !i.Up || strings.Join(i.Slaves, ",") != "tap1,tap2" || i.Active != "" {
		t.Errorf("after the cycle: %s", jsonOf(t, i))
	}

	l.set(t, `{"bonding_mode": "active-backup", "primary": "tap1", "arp_validate": 5}`)
	i = l.info(t)
	wantParams(t, i.Params, specParams())
	if !i.Up || strings.Join(i.Slaves, ",") != "tap1,tap2" {
		t.Errorf("after the cycle back: %s", jsonOf(t, i))
	}
	l.slavesUp(t)
	if a := l.info(t).Active; a != "tap1" {
		t.Errorf("active slave %q, want the primary tap1", a)
	}
}

func TestKernelFailOverMacChange(t *testing.T) {
	l := newLab(t)
	l.create(t, nil)
	l.set(t, `{"fail_over_mac": "none"}`)
	i := l.info(t)
	want := specParams()
	want.FailOverMac = testsupport.Ptr(0)
	wantParams(t, i.Params, want)
	if !i.Up || strings.Join(i.Slaves, ",") != "tap1,tap2" {
		t.Errorf("after the cycle: %s", jsonOf(t, i))
	}
}

func TestKernelDelete(t *testing.T) {
	l := newLab(t)
	l.create(t, nil)
	if err := l.k.Delete(context.Background(), "bond0"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	links, err := l.gw.Handle.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, link := range links {
		a := link.Attrs()
		if a.Name == "bond0" || a.MasterIndex != 0 || link.Type() == "bond" {
			t.Errorf("left after delete: %s (%s, master %d)", a.Name, link.Type(), a.MasterIndex)
		}
	}
	if err := l.k.Delete(context.Background(), "bond0"); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("second delete: %v, want not found", err)
	}
	if _, err := l.k.Info(context.Background(), "tap1"); errkind.KindOf(err) != errkind.KindInvalid {
		t.Errorf("info of a veth: %v, want invalid", err)
	}
}

// TestKernelCreateRollback: the kernel refuses to enslave tap2, which a
// macvlan uses (its rx handler is taken); Create leaves nothing behind.
func TestKernelCreateRollback(t *testing.T) {
	l := newLab(t)
	tap2, err := l.gw.Handle.LinkByName("tap2")
	if err != nil {
		t.Fatal(err)
	}
	ma := netlink.NewLinkAttrs()
	ma.Name, ma.ParentIndex = "mv0", tap2.Attrs().Index
	err = l.gw.Handle.LinkAdd(&netlink.Macvlan{LinkAttrs: ma, Mode: netlink.MACVLAN_MODE_BRIDGE})
	nstest.Require(t, err == nil, "no macvlan to make tap2 busy: %v", err)
	err = l.k.Create(context.Background(), specBond())
	if err == nil {
		t.Fatal("create over a busy tap2: no error")
	}
	t.Logf("create: %v", err)
	if _, err := l.gw.Handle.LinkByName("bond0"); err == nil {
		t.Errorf("bond0 left behind")
	}
	tap1, err := l.gw.Handle.LinkByName("tap1")
	if err != nil || tap1.Attrs().MasterIndex != 0 {
		t.Errorf("tap1 after rollback: %v %v", tap1, err)
	}
}

// TestKernelRawSocket checks the raw requests on any kernel: read a
// bridge's IFLA_INFO_DATA by name, and send bond attributes to links that
// are no bond or do not exist, which the kernel refuses.
func TestKernelRawSocket(t *testing.T) {
	ns := nstest.New(t, "bondraw")
	ba := netlink.NewLinkAttrs()
	ba.Name = "br0"
	if err := ns.Handle.LinkAdd(&netlink.Bridge{LinkAttrs: ba}); err != nil {
		t.Fatalf("add bridge: %v", err)
	}
	br, err := ns.Handle.LinkByName("br0")
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandleAt(netns.NsHandle(ns.Fd()))
	if err != nil {
		t.Fatalf("handle: %v", err)
	}
	t.Cleanup(h.Close)
	index, kind, data, err := h.raw.linkInfo("br0")
	if err != nil {
		t.Fatalf("link info: %v", err)
	}
	hasSTP := false
	for _, a := range data {
		hasSTP = hasSTP || a.Type == unix.IFLA_BR_STP_STATE
	}
	if index != br.Attrs().Index || kind != "bridge" || !hasSTP {
		t.Errorf("br0: ifindex %d (want %d), kind %q, %d attributes, IFLA_BR_STP_STATE %v", index, br.Attrs().Index, kind, len(data), hasSTP)
	}
	if _, _, err := h.BondData("br0"); err == nil || !strings.Contains(err.Error(), `"bridge" link, not a bond`) {
		t.Errorf("bond data of a bridge: %v", err)
	}
	if _, _, err := h.BondData("nope0"); !isNotFound(err) {
		t.Errorf("bond data of a missing link: %v, want ENODEV", err)
	}
	missed := rawAttrs(api.BondParams{ArpMissedMax: testsupport.Ptr(3)})
	if err := h.SetBondData("br0", missed); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("bond attributes to a bridge: %v, want EOPNOTSUPP", err)
	}
	if err := h.SetBondData("nope0", missed); !errors.Is(err, unix.ENODEV) {
		t.Errorf("bond attributes to a missing link: %v, want ENODEV", err)
	}
	if l, err := ns.Handle.LinkByName("nope0"); err == nil {
		t.Errorf("RTM_NEWLINK without NLM_F_CREATE made a link: %v", l)
	}
}

// TestKernelNoBond runs the driver against real netlink on links that are
// no bond, on any kernel; without the bonding driver Create says so and
// leaves nothing.
func TestKernelNoBond(t *testing.T) {
	gw := nstest.New(t, "bondnb")
	hub := nstest.New(t, "bondnbhub")
	nstest.Veth(t, gw, "tap1", "", hub, "hub1", "")
	nstest.Veth(t, gw, "tap2", "", hub, "hub2", "")
	h, err := NewHandleAt(netns.NsHandle(gw.Fd()))
	if err != nil {
		t.Fatalf("handle: %v", err)
	}
	t.Cleanup(h.Close)
	k := NewKernel(h, slog.New(slog.NewTextHandler(t.Output(), nil)))
	ctx := context.Background()
	if _, err := k.Info(ctx, "bond0"); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("info of a missing bond: %v, want not found", err)
	}
	if _, err := k.Info(ctx, "tap1"); errkind.KindOf(err) != errkind.KindInvalid {
		t.Errorf("info of a veth: %v, want invalid", err)
	}
	if err := k.Delete(ctx, "tap1"); errkind.KindOf(err) != errkind.KindInvalid {
		t.Errorf("delete of a veth: %v, want invalid", err)
	}
	if err := k.Set(ctx, "bond0", testsupport.Decode[api.BondParams](t, `{"arp_interval": 50}`)); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("set of a missing bond: %v, want not found", err)
	}
	s := specBond()
	s.Slaves = []string{"tap1", "tap3"}
	if err := k.Create(ctx, s); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("create with a missing slave: %v, want not found", err)
	}

	a := netlink.NewLinkAttrs()
	a.Name = "probe0"
	if err := gw.Handle.LinkAdd(netlink.NewLinkBond(a)); err == nil {
		t.Skip("the kernel has a bonding driver; the other tests cover it")
	}
	err = k.Create(ctx, specBond())
	if !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "kernel has no bonding driver") {
		t.Errorf("create without bonding: %v", err)
	}
	links, err := gw.Handle.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.Attrs().Name == "bond0" || l.Attrs().MasterIndex != 0 {
			t.Errorf("left behind: %s", l.Attrs().Name)
		}
	}
}
