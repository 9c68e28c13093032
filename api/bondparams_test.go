package api

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/testsupport"
)

// TestBondParamKeys: every field of BondParams has its key in
// BondParamKeys, in order, and every *int field is in intParams.
func TestBondParamKeys(t *testing.T) {
	rt := reflect.TypeFor[BondParams]()
	var keys, ints []string
	field := map[string]int{} // key -> field index
	for i := range rt.NumField() {
		f := rt.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		keys = append(keys, key)
		field[key] = i
		if f.Type == reflect.TypeFor[*int]() {
			ints = append(ints, key)
		}
	}
	if !slices.Equal(keys, BondParamKeys) {
		t.Errorf("BondParamKeys %q, fields %q", BondParamKeys, keys)
	}
	var table []string
	for _, ip := range intParams {
		table = append(table, ip.key)
		var p BondParams
		*ip.ptr(&p) = ptr(7)
		if v := reflect.ValueOf(p).Field(field[ip.key]); v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Int() != 7 {
			t.Errorf("intParams %q points at another field", ip.key)
		}
		if ip.names != nil && (ip.min != 0 || ip.max != len(ip.names)-1) {
			t.Errorf("%s: range %d..%d for %d names", ip.key, ip.min, ip.max, len(ip.names))
		}
	}
	slices.Sort(ints)
	slices.Sort(table)
	if !slices.Equal(ints, table) {
		t.Errorf("intParams %q, *int fields %q", table, ints)
	}
	for alias, canon := range bondAliases {
		if !slices.Contains(BondParamKeys, canon) || slices.Contains(BondParamKeys, alias) {
			t.Errorf("alias %q -> %q", alias, canon)
		}
	}
}

// TestKernelNames: the option tables are the kernel's, in its order.
func TestKernelNames(t *testing.T) {
	tests := []struct {
		names []string
		want  string
	}{
		{ModeNames, "balance-rr active-backup balance-xor broadcast 802.3ad balance-tlb balance-alb"},
		{ArpValidateNames, "none active backup all filter filter_active filter_backup"},
		{FailOverMacNames, "none active follow"},
		{PrimaryReselectNames, "always better failure"},
	}
	for _, tc := range tests {
		if got := strings.Join(tc.names, " "); got != tc.want {
			t.Errorf("%s, want %s", got, tc.want)
		}
	}
	if ModeNames[ModeActiveBackup] != "active-backup" || ModeNames[Mode8023AD] != "802.3ad" ||
		ModeNames[ModeTLB] != "balance-tlb" || ModeNames[ModeALB] != "balance-alb" {
		t.Error("mode constants do not match ModeNames")
	}
}

// TestBondParamsCheck checks effective sets built in code, as the
// gateway merges them: nothing out of range may pass (or panic).
func TestBondParamsCheck(t *testing.T) {
	taps := []string{"tap1", "tap2"}
	good := []BondParams{
		{},
		Defaults().Merge(BondParams{ArpIPTarget: addrs("10.8.0.254")}),
		{Mode: ptr(1), Miimon: ptr(100), Updelay: ptr(200), Downdelay: ptr(200), PeerNotifDelay: ptr(100)},
		{Mode: ptr(4), Miimon: ptr(100), ArpInterval: ptr(0), ArpValidate: ptr(0)},
		{Mode: ptr(4), Updelay: ptr(200)}, // the kernel turns miimon on for 802.3ad
		{Mode: ptr(5), Primary: ptr("tap2"), ActiveSlave: ptr("tap1")},
		{Mode: ptr(0), ArpInterval: ptr(100), ArpIPTarget: addrs("10.8.0.254"), Primary: ptr("")},
		{ArpIPTarget: targetAddrs(16), ArpInterval: ptr(1)},
		{ArpIPTarget: []netip.Addr{}},
	}
	for _, p := range good {
		if err := p.Check(taps); err != nil {
			t.Errorf("%s: %v", mustJSON(p), err)
		}
	}
	bad := []struct {
		p     BondParams
		field string
	}{
		{BondParams{Mode: ptr(7)}, "bonding_mode"},
		{BondParams{Mode: ptr(-1)}, "bonding_mode"},
		{BondParams{ArpValidate: ptr(9)}, "arp_validate"},
		{BondParams{FailOverMac: ptr(3)}, "fail_over_mac"},
		{BondParams{PrimaryReselect: ptr(-1)}, "primary_reselect"},
		{BondParams{ArpMissedMax: ptr(0)}, "arp_missed_max"},
		{BondParams{NumGratArp: ptr(256)}, "num_grat_arp"},
		{BondParams{AllSlavesActive: ptr(2)}, "all_slaves_active"},
		{BondParams{Miimon: ptr(-1)}, "miimon"},
		{BondParams{ArpIPTarget: targetAddrs(17)}, "arp_ip_target"},
		{BondParams{ArpIPTarget: addrs("10.8.0.1", "10.8.0.1")}, "arp_ip_target[1]"},
		{BondParams{ArpIPTarget: addrs("fe80::1")}, "arp_ip_target[0]"},
		{BondParams{ArpIPTarget: []netip.Addr{{}}}, "arp_ip_target[0]"},
		{BondParams{Primary: ptr("tap3")}, "primary"},
		{BondParams{ActiveSlave: ptr("eth0")}, "active_slave"},
		{BondParams{ArpInterval: ptr(100)}, "arp_ip_target"},
		{BondParams{ArpInterval: ptr(100), Miimon: ptr(100), ArpIPTarget: addrs("10.8.0.254")}, "arp_interval"},
		{BondParams{Mode: ptr(4), ArpInterval: ptr(100), ArpIPTarget: addrs("10.8.0.254")}, "arp_interval"},
		{BondParams{Mode: ptr(5), ArpValidate: ptr(1)}, "arp_validate"},
		{BondParams{Mode: ptr(6), ArpMissedMax: ptr(2)}, "arp_missed_max"},
		{BondParams{Mode: ptr(0), Primary: ptr("tap1")}, "primary"},
		{BondParams{Mode: ptr(3), ActiveSlave: ptr("tap1")}, "active_slave"},
		{BondParams{Miimon: ptr(0), Updelay: ptr(100)}, "updelay"},
		{BondParams{ArpInterval: ptr(100), ArpIPTarget: addrs("10.8.0.254"), Downdelay: ptr(100)}, "downdelay"},
	}
	for _, tc := range bad {
		t.Run(tc.field+" "+mustJSON(tc.p), func(t *testing.T) {
			testsupport.WantInvalid(t, tc.p.Check(taps), tc.field)
		})
	}
}

func TestMerge(t *testing.T) {
	base := Defaults().Merge(BondParams{Primary: ptr("tap1"), ArpIPTarget: addrs("10.8.0.254")})
	snapshot := mustJSON(base)

	m := base.Merge(BondParams{Primary: ptr("tap2"), ArpInterval: ptr(50), Miimon: ptr(0)})
	if *m.Primary != "tap2" || *m.ArpInterval != 50 || *m.Miimon != 0 || *m.Mode != 1 || *m.ArpValidate != 5 ||
		!slices.Equal(m.ArpIPTarget, addrs("10.8.0.254")) {
		t.Errorf("merged %s", mustJSON(m))
	}
	// The result shares nothing with its inputs.
	*m.Mode, *m.Primary, m.ArpIPTarget[0] = 4, "x", netip.MustParseAddr("192.0.2.1")
	if mustJSON(base) != snapshot {
		t.Errorf("changing the merge changed its input: %s", mustJSON(base))
	}
	q := BondParams{ActiveSlave: ptr("tap1")}
	m = base.Merge(q)
	*m.ActiveSlave = "tap2"
	if *q.ActiveSlave != "tap1" {
		t.Error("merge shares q's pointers")
	}
	// An empty target list is given: it clears; nil leaves them.
	if m := base.Merge(BondParams{ArpIPTarget: []netip.Addr{}}); m.ArpIPTarget == nil || len(m.ArpIPTarget) != 0 {
		t.Errorf("clearing targets gave %#v", m.ArpIPTarget)
	}
	if m := base.Merge(BondParams{}); !reflect.DeepEqual(m, base) {
		t.Errorf("merging nothing: %s", mustJSON(m))
	}
	if m := (BondParams{}).Merge(base); !reflect.DeepEqual(m, base) {
		t.Errorf("merging onto nothing: %s", mustJSON(m))
	}
}

// TestMarshalBondParams: numbers, not names; only given parameters; an
// empty target list stays given.
func TestMarshalBondParams(t *testing.T) {
	tests := []struct {
		p    BondParams
		want string
	}{
		{BondParams{}, `{}`},
		{Defaults(), `{"bonding_mode":1,"arp_interval":100,"arp_validate":5,"fail_over_mac":1}`},
		{BondParams{ArpIPTarget: []netip.Addr{}}, `{"arp_ip_target":[]}`},
		{BondParams{Primary: ptr(""), ArpIPTarget: addrs("10.8.0.254", "10.8.0.1")}, `{"primary":"","arp_ip_target":["10.8.0.254","10.8.0.1"]}`},
	}
	for _, tc := range tests {
		if got := mustJSON(tc.p); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}
