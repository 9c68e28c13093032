package api_test

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/testsupport"
)

// TestKernelNames: the option tables are the kernel's, in its order.
func TestKernelNames(t *testing.T) {
	tests := []struct {
		names []string
		want  string
	}{
		{api.ModeNames, "balance-rr active-backup balance-xor broadcast 802.3ad balance-tlb balance-alb"},
		{api.ArpValidateNames, "none active backup all filter filter_active filter_backup"},
		{api.FailOverMacNames, "none active follow"},
		{api.PrimaryReselectNames, "always better failure"},
	}
	for _, tc := range tests {
		if got := strings.Join(tc.names, " "); got != tc.want {
			t.Errorf("%s, want %s", got, tc.want)
		}
	}
	if api.ModeNames[api.ModeActiveBackup] != "active-backup" || api.ModeNames[api.Mode8023AD] != "802.3ad" ||
		api.ModeNames[api.ModeTLB] != "balance-tlb" || api.ModeNames[api.ModeALB] != "balance-alb" {
		t.Error("mode constants do not match ModeNames")
	}
}

// TestBondParamsCheck checks effective sets built in code, as the
// gateway merges them: nothing out of range may pass (or panic).
func TestBondParamsCheck(t *testing.T) {
	taps := []string{"tap1", "tap2"}
	good := []api.BondParams{
		{},
		api.Defaults().Merge(api.BondParams{ArpIPTarget: testsupport.Addrs("10.8.0.254")}),
		{Mode: testsupport.Ptr(1), Miimon: testsupport.Ptr(100), Updelay: testsupport.Ptr(200), Downdelay: testsupport.Ptr(200), PeerNotifDelay: testsupport.Ptr(100)},
		{Mode: testsupport.Ptr(4), Miimon: testsupport.Ptr(100), ArpInterval: testsupport.Ptr(0), ArpValidate: testsupport.Ptr(0)},
		{Mode: testsupport.Ptr(4), Updelay: testsupport.Ptr(200)}, // the kernel turns miimon on for 802.3ad
		{Mode: testsupport.Ptr(5), Primary: testsupport.Ptr("tap2"), ActiveSlave: testsupport.Ptr("tap1")},
		{Mode: testsupport.Ptr(0), ArpInterval: testsupport.Ptr(100), ArpIPTarget: testsupport.Addrs("10.8.0.254"), Primary: testsupport.Ptr("")},
		{ArpIPTarget: targetAddrs(16), ArpInterval: testsupport.Ptr(1)},
		{ArpIPTarget: []netip.Addr{}},
	}
	for _, p := range good {
		if err := p.Check(taps); err != nil {
			t.Errorf("%s: %v", testsupport.MustJSON(p), err)
		}
	}
	bad := []struct {
		p     api.BondParams
		field string
	}{
		{api.BondParams{Mode: testsupport.Ptr(7)}, "bonding_mode"},
		{api.BondParams{Mode: testsupport.Ptr(-1)}, "bonding_mode"},
		{api.BondParams{ArpValidate: testsupport.Ptr(9)}, "arp_validate"},
		{api.BondParams{FailOverMac: testsupport.Ptr(3)}, "fail_over_mac"},
		{api.BondParams{PrimaryReselect: testsupport.Ptr(-1)}, "primary_reselect"},
		{api.BondParams{ArpMissedMax: testsupport.Ptr(0)}, "arp_missed_max"},
		{api.BondParams{NumGratArp: testsupport.Ptr(256)}, "num_grat_arp"},
		{api.BondParams{AllSlavesActive: testsupport.Ptr(2)}, "all_slaves_active"},
		{api.BondParams{Miimon: testsupport.Ptr(-1)}, "miimon"},
		{api.BondParams{ArpIPTarget: targetAddrs(17)}, "arp_ip_target"},
		{api.BondParams{ArpIPTarget: testsupport.Addrs("10.8.0.1", "10.8.0.1")}, "arp_ip_target[1]"},
		{api.BondParams{ArpIPTarget: testsupport.Addrs("fe80::1")}, "arp_ip_target[0]"},
		{api.BondParams{ArpIPTarget: []netip.Addr{{}}}, "arp_ip_target[0]"},
		{api.BondParams{Primary: testsupport.Ptr("tap3")}, "primary"},
		{api.BondParams{ActiveSlave: testsupport.Ptr("eth0")}, "active_slave"},
		{api.BondParams{ArpInterval: testsupport.Ptr(100)}, "arp_ip_target"},
		{api.BondParams{ArpInterval: testsupport.Ptr(100), Miimon: testsupport.Ptr(100), ArpIPTarget: testsupport.Addrs("10.8.0.254")}, "arp_interval"},
		{api.BondParams{Mode: testsupport.Ptr(4), ArpInterval: testsupport.Ptr(100), ArpIPTarget: testsupport.Addrs("10.8.0.254")}, "arp_interval"},
		{api.BondParams{Mode: testsupport.Ptr(5), ArpValidate: testsupport.Ptr(1)}, "arp_validate"},
		{api.BondParams{Mode: testsupport.Ptr(6), ArpMissedMax: testsupport.Ptr(2)}, "arp_missed_max"},
		{api.BondParams{Mode: testsupport.Ptr(0), Primary: testsupport.Ptr("tap1")}, "primary"},
		{api.BondParams{Mode: testsupport.Ptr(3), ActiveSlave: testsupport.Ptr("tap1")}, "active_slave"},
		{api.BondParams{Miimon: testsupport.Ptr(0), Updelay: testsupport.Ptr(100)}, "updelay"},
		{api.BondParams{ArpInterval: testsupport.Ptr(100), ArpIPTarget: testsupport.Addrs("10.8.0.254"), Downdelay: testsupport.Ptr(100)}, "downdelay"},
	}
	for _, tc := range bad {
		t.Run(tc.field+" "+testsupport.MustJSON(tc.p), func(t *testing.T) {
			testsupport.WantInvalid(t, tc.p.Check(taps), tc.field)
		})
	}
}

func TestMerge(t *testing.T) {
	base := api.Defaults().Merge(api.BondParams{Primary: testsupport.Ptr("tap1"), ArpIPTarget: testsupport.Addrs("10.8.0.254")})
	snapshot := testsupport.MustJSON(base)

	m := base.Merge(api.BondParams{Primary: testsupport.Ptr("tap2"), ArpInterval: testsupport.Ptr(50), Miimon: testsupport.Ptr(0)})
	if *m.Primary != "tap2" || *m.ArpInterval != 50 || *m.Miimon != 0 || *m.Mode != 1 || *m.ArpValidate != 5 ||
		!slices.Equal(m.ArpIPTarget, testsupport.Addrs("10.8.0.254")) {
		t.Errorf("merged %s", testsupport.MustJSON(m))
	}
	// The result shares nothing with its inputs.
	*m.Mode, *m.Primary, m.ArpIPTarget[0] = 4, "x", netip.MustParseAddr("192.0.2.1")
	if testsupport.MustJSON(base) != snapshot {
		t.Errorf("changing the merge changed its input: %s", testsupport.MustJSON(base))
	}
	q := api.BondParams{ActiveSlave: testsupport.Ptr("tap1")}
	m = base.Merge(q)
	*m.ActiveSlave = "tap2"
	if *q.ActiveSlave != "tap1" {
		t.Error("merge shares q's pointers")
	}
	// An empty target list is given: it clears; nil leaves them.
	if m := base.Merge(api.BondParams{ArpIPTarget: []netip.Addr{}}); m.ArpIPTarget == nil || len(m.ArpIPTarget) != 0 {
		t.Errorf("clearing targets gave %#v", m.ArpIPTarget)
	}
	if m := base.Merge(api.BondParams{}); !reflect.DeepEqual(m, base) {
		t.Errorf("merging nothing: %s", testsupport.MustJSON(m))
	}
	if m := (api.BondParams{}).Merge(base); !reflect.DeepEqual(m, base) {
		t.Errorf("merging onto nothing: %s", testsupport.MustJSON(m))
	}
}

// TestMarshalBondParams: numbers, not names; only given parameters; an
// empty target list stays given.
func TestMarshalBondParams(t *testing.T) {
	tests := []struct {
		p    api.BondParams
		want string
	}{
		{api.BondParams{}, `{}`},
		{api.Defaults(), `{"bonding_mode":1,"arp_interval":100,"arp_validate":5,"fail_over_mac":1}`},
		{api.BondParams{ArpIPTarget: []netip.Addr{}}, `{"arp_ip_target":[]}`},
		{api.BondParams{Primary: testsupport.Ptr(""), ArpIPTarget: testsupport.Addrs("10.8.0.254", "10.8.0.1")}, `{"primary":"","arp_ip_target":["10.8.0.254","10.8.0.1"]}`},
	}
	for _, tc := range tests {
		if got := testsupport.MustJSON(tc.p); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}

// TestModeRules: the kernel's rules of which modes monitor by ARP and
// which have a primary, mode by mode.
func TestModeRules(t *testing.T) {
	for mode, name := range api.ModeNames {
		arp := name != "802.3ad" && name != "balance-tlb" && name != "balance-alb"
		primary := name == "active-backup" || name == "balance-tlb" || name == "balance-alb"
		if api.ModeUsesARP(mode) != arp || api.ModeHasPrimary(mode) != primary {
			t.Errorf("%s: ModeUsesARP %t, ModeHasPrimary %t; want %t, %t", name, api.ModeUsesARP(mode), api.ModeHasPrimary(mode), arp, primary)
		}
	}
}
