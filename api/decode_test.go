package api_test

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
)

func TestServerAccepts(t *testing.T) {
	tests := []struct {
		name string
		body string
		want api.Server
	}{
		{"spec", serverBody(), api.Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 2, 1191, "tap", ""}},
		{"links number", serverBody("links", 2), api.Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 2, 1191, "tap", ""}},
		{"links padded string", serverBody("links", " 16 "), api.Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 16, 1191, "tap", ""}},
		{"canonical spelling", serverBody("bride_interface", del, "bridge_interface", "br1"), api.Server{"br1", netip.MustParsePrefix("10.8.0.254/24"), 2, 1191, "tap", ""}},
		{"prefix given", serverBody("bridge_ip", "10.9.0.1/16"), api.Server{"br0", netip.MustParsePrefix("10.9.0.1/16"), 2, 1191, "tap", ""}},
		{"/30", serverBody("bridge_ip", " 192.0.2.1/30 "), api.Server{"br0", netip.MustParsePrefix("192.0.2.1/30"), 2, 1191, "tap", ""}},
		{"port_base string", serverBody("port_base", "5000"), api.Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 2, 5000, "tap", ""}},
		{"port_base last fit", serverBody("port_base", 65534), api.Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 2, 65534, "tap", ""}},
		{"tap_prefix", serverBody("tap_prefix", "ml-"), api.Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 2, 1191, "ml-", ""}},
		{"tap_prefix empty is default", serverBody("tap_prefix", ""), api.Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 2, 1191, "tap", ""}},
		{"tunnel_mode static", serverBody("tunnel_mode", "static"), api.Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 2, 1191, "tap", "static"}},
		{"tunnel_mode tls", serverBody("tunnel_mode", "tls"), api.Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 2, 1191, "tap", "tls"}},
		{"longest names", serverBody("bride_interface", "abcdefghijklmno", "tap_prefix", "abcdefghijklm", "links", 16), api.Server{"abcdefghijklmno", netip.MustParsePrefix("10.8.0.254/24"), 16, 1191, "abcdefghijklm", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s api.Server
			if err := json.Unmarshal([]byte(tc.body), &s); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s, tc.want) {
				t.Errorf("got %+v, want %+v", s, tc.want)
			}
		})
	}
}

func TestBondParamsAccepts(t *testing.T) {
	tests := []struct {
		body string
		want api.BondParams
	}{
		// Numbers as strings and as numbers.
		{`{"arp_interval": "50"}`, api.BondParams{ArpInterval: testsupport.Ptr(50)}},
		{`{"arp_interval": 50}`, api.BondParams{ArpInterval: testsupport.Ptr(50)}},
		{`{"arp_interval": " 0 "}`, api.BondParams{ArpInterval: testsupport.Ptr(0)}},
		{`{"miimon": 2147483647}`, api.BondParams{Miimon: testsupport.Ptr(2147483647)}},
		{`{"arp_missed_max": 1, "num_grat_arp": "255", "all_slaves_active": "1"}`, api.BondParams{ArpMissedMax: testsupport.Ptr(1), NumGratArp: testsupport.Ptr(255), AllSlavesActive: testsupport.Ptr(1)}},
		// Enums: names and numbers.
		{`{"bonding_mode": "1"}`, api.BondParams{Mode: testsupport.Ptr(1)}},
		{`{"bonding_mode": 1}`, api.BondParams{Mode: testsupport.Ptr(1)}},
		{`{"bonding_mode": "active-backup"}`, api.BondParams{Mode: testsupport.Ptr(1)}},
		{`{"mode": "active-backup"}`, api.BondParams{Mode: testsupport.Ptr(1)}},
		{`{"mode": "Active-Backup"}`, api.BondParams{Mode: testsupport.Ptr(1)}},
		{`{"bonding_mode": "balance-rr"}`, api.BondParams{Mode: testsupport.Ptr(0)}},
		{`{"bonding_mode": "802.3ad"}`, api.BondParams{Mode: testsupport.Ptr(4)}},
		{`{"bonding_mode": "balance-alb"}`, api.BondParams{Mode: testsupport.Ptr(6)}},
		{`{"bonding_mode": 6}`, api.BondParams{Mode: testsupport.Ptr(6)}},
		{`{"arp_validate": "filter_active"}`, api.BondParams{ArpValidate: testsupport.Ptr(5)}},
		{`{"arp_validate": "5"}`, api.BondParams{ArpValidate: testsupport.Ptr(5)}},
		{`{"arp_validate": 5}`, api.BondParams{ArpValidate: testsupport.Ptr(5)}},
		{`{"arp_validate": "none"}`, api.BondParams{ArpValidate: testsupport.Ptr(0)}},
		{`{"arp_validate": "filter_backup"}`, api.BondParams{ArpValidate: testsupport.Ptr(6)}},
		{`{"fail_over_mac": "active"}`, api.BondParams{FailOverMac: testsupport.Ptr(1)}},
		{`{"fail_over_mac": "follow"}`, api.BondParams{FailOverMac: testsupport.Ptr(2)}},
		{`{"fail_over_mac": 0}`, api.BondParams{FailOverMac: testsupport.Ptr(0)}},
		{`{"primary_reselect": "always"}`, api.BondParams{PrimaryReselect: testsupport.Ptr(0)}},
		{`{"primary_reselect": "better"}`, api.BondParams{PrimaryReselect: testsupport.Ptr(1)}},
		{`{"primary_reselect": "2"}`, api.BondParams{PrimaryReselect: testsupport.Ptr(2)}},
		// Aliases.
		{`{"num_unsol_na": 3}`, api.BondParams{NumGratArp: testsupport.Ptr(3)}},
		{`{"num_peer_notif": 3}`, api.BondParams{NumGratArp: testsupport.Ptr(3)}},
		{`{"arp_ip_targets": "10.8.0.254"}`, api.BondParams{ArpIPTarget: testsupport.Addrs("10.8.0.254")}},
		// arp_ip_target: string, comma list, array, empty (clears).
		{`{"arp_ip_target": "10.8.0.254"}`, api.BondParams{ArpIPTarget: testsupport.Addrs("10.8.0.254")}},
		{`{"arp_ip_target": "10.8.0.254, 10.8.0.1,"}`, api.BondParams{ArpIPTarget: testsupport.Addrs("10.8.0.254", "10.8.0.1")}},
		{`{"arp_ip_target": ["10.8.0.254", " 10.8.0.1 "]}`, api.BondParams{ArpIPTarget: testsupport.Addrs("10.8.0.254", "10.8.0.1")}},
		{`{"arp_ip_target": ""}`, api.BondParams{ArpIPTarget: []netip.Addr{}}},
		{`{"arp_ip_target": []}`, api.BondParams{ArpIPTarget: []netip.Addr{}}},
		{`{"arp_ip_target": "` + targets(16) + `"}`, api.BondParams{ArpIPTarget: targetAddrs(16)}},
		// Slave names; "" clears.
		{`{"primary": "tap2"}`, api.BondParams{Primary: testsupport.Ptr("tap2")}},
		{`{"primary": " tap2 "}`, api.BondParams{Primary: testsupport.Ptr("tap2")}},
		{`{"primary": "", "active_slave": ""}`, api.BondParams{Primary: testsupport.Ptr(""), ActiveSlave: testsupport.Ptr("")}},
		{`{}`, api.BondParams{}},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			var p api.BondParams
			if err := json.Unmarshal([]byte(tc.body), &p); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, tc.want) {
				t.Errorf("got %s, want %s", testsupport.MustJSON(p), testsupport.MustJSON(tc.want))
			}
			if (p.ArpIPTarget == nil) != (tc.want.ArpIPTarget == nil) {
				t.Errorf("targets nil %v, want nil %v", p.ArpIPTarget == nil, tc.want.ArpIPTarget == nil)
			}
		})
	}
}

func targets(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = targetAddrs(n)[i].String()
	}
	return strings.Join(s, ",")
}

func targetAddrs(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{10, 8, 0, byte(i + 1)})
	}
	return out
}

// TestClientDefaults: a client start gets the spec's defaults where it
// gives nothing, but only those that fit the mode and monitoring it picks.
func TestClientDefaults(t *testing.T) {
	only := func(kv ...any) string {
		return clientBody(func(c clientParts) {
			for k := range c.bonding {
				delete(c.bonding, k)
			}
			apply(c.bonding, kv)
		})
	}
	tests := []struct {
		name string
		body string
		want api.BondParams
	}{
		{"nothing", only(), api.BondParams{Mode: testsupport.Ptr(1), Primary: testsupport.Ptr("tap1"), ArpInterval: testsupport.Ptr(100), ArpValidate: testsupport.Ptr(5), FailOverMac: testsupport.Ptr(1)}},
		{"miimon instead of ARP", only("miimon", "100"), api.BondParams{Mode: testsupport.Ptr(1), Primary: testsupport.Ptr("tap1"), FailOverMac: testsupport.Ptr(1), Miimon: testsupport.Ptr(100)}},
		{"miimon 0 keeps ARP", only("miimon", 0), api.BondParams{Mode: testsupport.Ptr(1), Primary: testsupport.Ptr("tap1"), ArpInterval: testsupport.Ptr(100), ArpValidate: testsupport.Ptr(5), FailOverMac: testsupport.Ptr(1), Miimon: testsupport.Ptr(0)}},
		{"802.3ad", only("bonding_mode", "802.3ad"), api.BondParams{Mode: testsupport.Ptr(4), FailOverMac: testsupport.Ptr(1)}},
		{"balance-tlb", only("bonding_mode", 5), api.BondParams{Mode: testsupport.Ptr(5), Primary: testsupport.Ptr("tap1"), FailOverMac: testsupport.Ptr(1)}},
		{"balance-rr", only("bonding_mode", "balance-rr"), api.BondParams{Mode: testsupport.Ptr(0), ArpInterval: testsupport.Ptr(100), ArpValidate: testsupport.Ptr(5), FailOverMac: testsupport.Ptr(1)}},
		{"primary cleared", only("primary", ""), api.BondParams{Mode: testsupport.Ptr(1), Primary: testsupport.Ptr(""), ArpInterval: testsupport.Ptr(100), ArpValidate: testsupport.Ptr(5), FailOverMac: testsupport.Ptr(1)}},
		{"spec values", only("bonding_mode", "active-backup", "primary", "tap2", "arp_interval", 50, "fail_over_mac", "active", "arp_validate", "filter_active", "arp_ip_target", []string{"10.8.0.254"}),
			api.BondParams{Mode: testsupport.Ptr(1), Primary: testsupport.Ptr("tap2"), ArpInterval: testsupport.Ptr(50), ArpValidate: testsupport.Ptr(5), FailOverMac: testsupport.Ptr(1), ArpIPTarget: testsupport.Addrs("10.8.0.254")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c api.Client
			if err := json.Unmarshal([]byte(tc.body), &c); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Bonding, tc.want) {
				t.Errorf("got %s, want %s", testsupport.MustJSON(c.Bonding), testsupport.MustJSON(tc.want))
			}
		})
	}

	var c api.Client
	body := clientBody(func(c clientParts) { c.bond["tap_prefix"] = "vpn"; delete(c.bonding, "primary") })
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	if *c.Bonding.Primary != "vpn1" || c.Taps()[1] != "vpn2" {
		t.Errorf("tap_prefix vpn: primary %q, taps %q", *c.Bonding.Primary, c.Taps())
	}
}

func TestClientAccepts(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, c api.Client)
	}{
		{"netmask as prefix length", clientBody(func(c clientParts) { c.slave(0)["netmask"] = 16; c.slave(1)["netmask"] = "/20" }), func(t *testing.T, c api.Client) {
			if c.Slaves[0].Netmask != 16 || c.Slaves[1].Netmask != 20 {
				t.Errorf("netmasks %d %d", c.Slaves[0].Netmask, c.Slaves[1].Netmask)
			}
		}},
		{"netmask /32 and default", clientBody(func(c clientParts) { c.slave(0)["netmask"] = "255.255.255.255"; delete(c.slave(1), "netmask") }), func(t *testing.T, c api.Client) {
			if c.Slaves[0].Netmask != 32 || c.Slaves[1].Netmask != 24 {
				t.Errorf("netmasks %d %d", c.Slaves[0].Netmask, c.Slaves[1].Netmask)
			}
		}},
		{"gateway", clientBody(func(c clientParts) { c.slave(1)["gateway"] = "192.168.1.1" }), func(t *testing.T, c api.Client) {
			if c.Slaves[1].Gateway != netip.MustParseAddr("192.168.1.1") || c.Slaves[0].Gateway.IsValid() {
				t.Errorf("gateways %v %v", c.Slaves[0].Gateway, c.Slaves[1].Gateway)
			}
		}},
		{"eight slaves", clientBody(func(c clientParts) {
			var s []any
			for i := range api.MaxSlaves {
				s = append(s, map[string]any{"hw_int": "eth" + string(rune('0'+i)), "ip_server": "192.0.2.1"})
			}
			c.bond["slaves"] = s
		}), func(t *testing.T, c api.Client) {
			if len(c.Slaves) != 8 || c.Taps()[7] != "tap8" {
				t.Errorf("slaves %d taps %q", len(c.Slaves), c.Taps())
			}
		}},
		{"https, path, token, bridge", clientBody(func(c clientParts) {
			c.top["server_api_url"] = "https://hub.example:8443/multilink/"
			c.top["server_token"] = "abc.DEF-123_~+/="
			c.top["server_bridge"] = "br1"
			c.top["server_api_pin"] = " sha256//+AKmItTfD3g3mGVSkdpaOQLJiOJF32xPAhVe2zfeel8 "
		}), func(t *testing.T, c api.Client) {
			if c.ServerAPIURL != "https://hub.example:8443/multilink/" || c.ServerToken != "abc.DEF-123_~+/=" || c.ServerBridge != "br1" ||
				c.ServerAPIPin != "sha256//+AKmItTfD3g3mGVSkdpaOQLJiOJF32xPAhVe2zfeel8=" {
				t.Errorf("%+v", c)
			}
		}},
		{"other bond name", strings.Replace(clientBody(nil), `"bond0"`, `"bond-wan"`, 1), func(t *testing.T, c api.Client) {
			if c.Bond != "bond-wan" {
				t.Errorf("bond %q", c.Bond)
			}
		}},
		{"no arp_ip_target: filled at start", clientBody(func(c clientParts) { delete(c.bonding, "arp_ip_target") }), func(t *testing.T, c api.Client) {
			if c.Bonding.ArpIPTarget != nil {
				t.Errorf("targets %v", c.Bonding.ArpIPTarget)
			}
			if err := c.Bonding.Check(c.Taps()); err == nil {
				t.Error("ARP monitoring without targets passes Check")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c api.Client
			if err := json.Unmarshal([]byte(tc.body), &c); err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestDecodeStrict(t *testing.T) {
	var v struct {
		N    float64  `json:"n"`
		I    int      `json:"i"`
		L    []string `json:"l"`
		Name string   `json:"name"`
	}
	for body, want := range map[string]string{
		`{"n": "fast"}`: "n: must be a number, not a JSON string",
		`{"i": 1.5}`:    "i: must be an integer, not a JSON number 1.5",
		`{"l": "tap1"}`: "l: must be an array, not a JSON string",
		`{"name": 5}`:   "name: must be a string, not a JSON number",
		`{"x": 1}`:      "x: unknown field",
		`{"n": 1} {}`:   "data after the JSON object",
		`[1]`:           "must be an object, not a JSON array",
	} {
		err := api.DecodeStrict([]byte(body), &v)
		if errkind.KindOf(err) != errkind.KindInvalid || err.Error() != want {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}
