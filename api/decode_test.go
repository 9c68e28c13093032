package api

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/errkind"
)

func TestServerAccepts(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Server
	}{
		{"spec", serverBody(), Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 2, 1191, "tap"}},
		{"links number", serverBody("links", 2), Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 2, 1191, "tap"}},
		{"links padded string", serverBody("links", " 16 "), Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 16, 1191, "tap"}},
		{"canonical spelling", serverBody("bride_interface", del, "bridge_interface", "br1"), Server{"br1", netip.MustParsePrefix("10.8.0.254/24"), 2, 1191, "tap"}},
		{"prefix given", serverBody("bridge_ip", "10.9.0.1/16"), Server{"br0", netip.MustParsePrefix("10.9.0.1/16"), 2, 1191, "tap"}},
		{"/30", serverBody("bridge_ip", " 192.0.2.1/30 "), Server{"br0", netip.MustParsePrefix("192.0.2.1/30"), 2, 1191, "tap"}},
		{"port_base string", serverBody("port_base", "5000"), Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 2, 5000, "tap"}},
		{"port_base last fit", serverBody("port_base", 65534), Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 2, 65534, "tap"}},
		{"tap_prefix", serverBody("tap_prefix", "ml-"), Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 2, 1191, "ml-"}},
		{"tap_prefix empty is default", serverBody("tap_prefix", ""), Server{"br0", netip.MustParsePrefix("10.8.0.254/24"), 2, 1191, "tap"}},
		{"longest names", serverBody("bride_interface", "abcdefghijklmno", "tap_prefix", "abcdefghijklm", "links", 16), Server{"abcdefghijklmno", netip.MustParsePrefix("10.8.0.254/24"), 16, 1191, "abcdefghijklm"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Server
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
		want BondParams
	}{
		// Numbers as strings and as numbers.
		{`{"arp_interval": "50"}`, BondParams{ArpInterval: ptr(50)}},
		{`{"arp_interval": 50}`, BondParams{ArpInterval: ptr(50)}},
		{`{"arp_interval": " 0 "}`, BondParams{ArpInterval: ptr(0)}},
		{`{"miimon": 2147483647}`, BondParams{Miimon: ptr(2147483647)}},
		{`{"arp_missed_max": 1, "num_grat_arp": "255", "all_slaves_active": "1"}`, BondParams{ArpMissedMax: ptr(1), NumGratArp: ptr(255), AllSlavesActive: ptr(1)}},
		// Enums: names and numbers.
		{`{"bonding_mode": "1"}`, BondParams{Mode: ptr(1)}},
		{`{"bonding_mode": 1}`, BondParams{Mode: ptr(1)}},
		{`{"bonding_mode": "active-backup"}`, BondParams{Mode: ptr(1)}},
		{`{"mode": "active-backup"}`, BondParams{Mode: ptr(1)}},
		{`{"mode": "Active-Backup"}`, BondParams{Mode: ptr(1)}},
		{`{"bonding_mode": "balance-rr"}`, BondParams{Mode: ptr(0)}},
		{`{"bonding_mode": "802.3ad"}`, BondParams{Mode: ptr(4)}},
		{`{"bonding_mode": "balance-alb"}`, BondParams{Mode: ptr(6)}},
		{`{"bonding_mode": 6}`, BondParams{Mode: ptr(6)}},
		{`{"arp_validate": "filter_active"}`, BondParams{ArpValidate: ptr(5)}},
		{`{"arp_validate": "5"}`, BondParams{ArpValidate: ptr(5)}},
		{`{"arp_validate": 5}`, BondParams{ArpValidate: ptr(5)}},
		{`{"arp_validate": "none"}`, BondParams{ArpValidate: ptr(0)}},
		{`{"arp_validate": "filter_backup"}`, BondParams{ArpValidate: ptr(6)}},
		{`{"fail_over_mac": "active"}`, BondParams{FailOverMac: ptr(1)}},
		{`{"fail_over_mac": "follow"}`, BondParams{FailOverMac: ptr(2)}},
		{`{"fail_over_mac": 0}`, BondParams{FailOverMac: ptr(0)}},
		{`{"primary_reselect": "always"}`, BondParams{PrimaryReselect: ptr(0)}},
		{`{"primary_reselect": "better"}`, BondParams{PrimaryReselect: ptr(1)}},
		{`{"primary_reselect": "2"}`, BondParams{PrimaryReselect: ptr(2)}},
		// Aliases.
		{`{"num_unsol_na": 3}`, BondParams{NumGratArp: ptr(3)}},
		{`{"num_peer_notif": 3}`, BondParams{NumGratArp: ptr(3)}},
		{`{"arp_ip_targets": "10.8.0.254"}`, BondParams{ArpIPTarget: addrs("10.8.0.254")}},
		// arp_ip_target: string, comma list, array, empty (clears).
		{`{"arp_ip_target": "10.8.0.254"}`, BondParams{ArpIPTarget: addrs("10.8.0.254")}},
		{`{"arp_ip_target": "10.8.0.254, 10.8.0.1,"}`, BondParams{ArpIPTarget: addrs("10.8.0.254", "10.8.0.1")}},
		{`{"arp_ip_target": ["10.8.0.254", " 10.8.0.1 "]}`, BondParams{ArpIPTarget: addrs("10.8.0.254", "10.8.0.1")}},
		{`{"arp_ip_target": ""}`, BondParams{ArpIPTarget: []netip.Addr{}}},
		{`{"arp_ip_target": []}`, BondParams{ArpIPTarget: []netip.Addr{}}},
		{`{"arp_ip_target": "` + targets(16) + `"}`, BondParams{ArpIPTarget: targetAddrs(16)}},
		// Slave names; "" clears.
		{`{"primary": "tap2"}`, BondParams{Primary: ptr("tap2")}},
		{`{"primary": " tap2 "}`, BondParams{Primary: ptr("tap2")}},
		{`{"primary": "", "active_slave": ""}`, BondParams{Primary: ptr(""), ActiveSlave: ptr("")}},
		{`{}`, BondParams{}},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			var p BondParams
			if err := json.Unmarshal([]byte(tc.body), &p); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, tc.want) {
				t.Errorf("got %s, want %s", mustJSON(p), mustJSON(tc.want))
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
		want BondParams
	}{
		{"nothing", only(), BondParams{Mode: ptr(1), Primary: ptr("tap1"), ArpInterval: ptr(100), ArpValidate: ptr(5), FailOverMac: ptr(1)}},
		{"miimon instead of ARP", only("miimon", "100"), BondParams{Mode: ptr(1), Primary: ptr("tap1"), FailOverMac: ptr(1), Miimon: ptr(100)}},
		{"miimon 0 keeps ARP", only("miimon", 0), BondParams{Mode: ptr(1), Primary: ptr("tap1"), ArpInterval: ptr(100), ArpValidate: ptr(5), FailOverMac: ptr(1), Miimon: ptr(0)}},
		{"802.3ad", only("bonding_mode", "802.3ad"), BondParams{Mode: ptr(4), FailOverMac: ptr(1)}},
		{"balance-tlb", only("bonding_mode", 5), BondParams{Mode: ptr(5), Primary: ptr("tap1"), FailOverMac: ptr(1)}},
		{"balance-rr", only("bonding_mode", "balance-rr"), BondParams{Mode: ptr(0), ArpInterval: ptr(100), ArpValidate: ptr(5), FailOverMac: ptr(1)}},
		{"primary cleared", only("primary", ""), BondParams{Mode: ptr(1), Primary: ptr(""), ArpInterval: ptr(100), ArpValidate: ptr(5), FailOverMac: ptr(1)}},
		{"spec values", only("bonding_mode", "active-backup", "primary", "tap2", "arp_interval", 50, "fail_over_mac", "active", "arp_validate", "filter_active", "arp_ip_target", []string{"10.8.0.254"}),
			BondParams{Mode: ptr(1), Primary: ptr("tap2"), ArpInterval: ptr(50), ArpValidate: ptr(5), FailOverMac: ptr(1), ArpIPTarget: addrs("10.8.0.254")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Client
			if err := json.Unmarshal([]byte(tc.body), &c); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Bonding, tc.want) {
				t.Errorf("got %s, want %s", mustJSON(c.Bonding), mustJSON(tc.want))
			}
		})
	}

	var c Client
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
		check func(t *testing.T, c Client)
	}{
		{"netmask as prefix length", clientBody(func(c clientParts) { c.slave(0)["netmask"] = 16; c.slave(1)["netmask"] = "/20" }), func(t *testing.T, c Client) {
			if c.Slaves[0].Netmask != 16 || c.Slaves[1].Netmask != 20 {
				t.Errorf("netmasks %d %d", c.Slaves[0].Netmask, c.Slaves[1].Netmask)
			}
		}},
		{"netmask /32 and default", clientBody(func(c clientParts) { c.slave(0)["netmask"] = "255.255.255.255"; delete(c.slave(1), "netmask") }), func(t *testing.T, c Client) {
			if c.Slaves[0].Netmask != 32 || c.Slaves[1].Netmask != 24 {
				t.Errorf("netmasks %d %d", c.Slaves[0].Netmask, c.Slaves[1].Netmask)
			}
		}},
		{"gateway", clientBody(func(c clientParts) { c.slave(1)["gateway"] = "192.168.1.1" }), func(t *testing.T, c Client) {
			if c.Slaves[1].Gateway != netip.MustParseAddr("192.168.1.1") || c.Slaves[0].Gateway.IsValid() {
				t.Errorf("gateways %v %v", c.Slaves[0].Gateway, c.Slaves[1].Gateway)
			}
		}},
		{"eight slaves", clientBody(func(c clientParts) {
			var s []any
			for i := range MaxSlaves {
				s = append(s, map[string]any{"hw_int": "eth" + string(rune('0'+i)), "ip_server": "192.0.2.1"})
			}
			c.bond["slaves"] = s
		}), func(t *testing.T, c Client) {
			if len(c.Slaves) != 8 || c.Taps()[7] != "tap8" {
				t.Errorf("slaves %d taps %q", len(c.Slaves), c.Taps())
			}
		}},
		{"https, path, token, bridge", clientBody(func(c clientParts) {
			c.top["server_api_url"] = "https://hub.example:8443/multilink/"
			c.top["server_token"] = "abc.DEF-123_~+/="
			c.top["server_bridge"] = "br1"
		}), func(t *testing.T, c Client) {
			if c.ServerAPIURL != "https://hub.example:8443/multilink/" || c.ServerToken != "abc.DEF-123_~+/=" || c.ServerBridge != "br1" {
				t.Errorf("%+v", c)
			}
		}},
		{"other bond name", strings.Replace(clientBody(nil), `"bond0"`, `"bond-wan"`, 1), func(t *testing.T, c Client) {
			if c.Bond != "bond-wan" {
				t.Errorf("bond %q", c.Bond)
			}
		}},
		{"no arp_ip_target: filled at start", clientBody(func(c clientParts) { delete(c.bonding, "arp_ip_target") }), func(t *testing.T, c Client) {
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
			var c Client
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
		err := DecodeStrict([]byte(body), &v)
		if errkind.KindOf(err) != errkind.KindInvalid || err.Error() != want {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}
