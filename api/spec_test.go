package api_test

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/testsupport"
)

func TestSpecServerStart(t *testing.T) {
	want := api.Server{
		BridgeInterface: "br0",
		BridgeIP:        netip.MustParsePrefix("10.8.0.254/24"),
		Links:           2,
		PortBase:        1191,
		TapPrefix:       "tap",
	}
	got := testsupport.SpecServer(t)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if err := got.Check(); err != nil {
		t.Fatal(err)
	}
	if taps := got.Taps(); !slices.Equal(taps, []string{"tap1", "tap2"}) {
		t.Errorf("taps %q", taps)
	}
	if got.Port(1) != 1191 || got.Port(2) != 1192 {
		t.Errorf("ports %d %d", got.Port(1), got.Port(2))
	}
	if n := api.IPNet(got.BridgeIP).String(); n != "10.8.0.254/24" {
		t.Errorf("IPNet %s", n)
	}
}

func TestSpecClientStart(t *testing.T) {
	want := api.Client{
		ServerAPIURL: "http://158.42.89.111:3333",
		Bond:         "bond0",
		Address:      netip.MustParsePrefix("10.8.0.253/24"),
		Slaves: []api.Slave{
			{HWInt: "eth0", IPServer: netip.MustParseAddr("158.42.89.111"), Netmask: 24},
			{HWInt: "wlan0", IPServer: netip.MustParseAddr("192.168.150.100"), Netmask: 24},
		},
		Bonding: api.BondParams{
			Mode:        testsupport.Ptr(1),
			Primary:     testsupport.Ptr("tap1"),
			ArpInterval: testsupport.Ptr(100),
			ArpIPTarget: testsupport.Addrs("10.8.0.254"),
			ArpValidate: testsupport.Ptr(5),
			FailOverMac: testsupport.Ptr(1),
		},
		TapPrefix: "tap",
	}
	got := testsupport.SpecClient(t)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %s\nwant %s", testsupport.MustJSON(got), testsupport.MustJSON(want))
	}
	if err := got.Check(); err != nil {
		t.Fatal(err)
	}
	if err := got.Bonding.Check(got.Taps()); err != nil {
		t.Fatal(err)
	}
	if taps := got.Taps(); !slices.Equal(taps, []string{"tap1", "tap2"}) {
		t.Errorf("taps %q", taps)
	}
}

func TestSpecBondParams(t *testing.T) {
	var p api.BondParams
	if err := json.Unmarshal(testsupport.SpecBody(t, "spec_bond_params.json"), &p); err != nil {
		t.Fatal(err)
	}
	want := api.BondParams{Primary: testsupport.Ptr("tap2"), ArpInterval: testsupport.Ptr(50)}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %s, want %s", testsupport.MustJSON(p), testsupport.MustJSON(want))
	}
	// Applied to the spec's client, the effective set is valid.
	c := testsupport.SpecClient(t)
	merged := c.Bonding.Merge(p)
	if err := merged.Check(c.Taps()); err != nil {
		t.Fatal(err)
	}
	if *merged.Primary != "tap2" || *merged.ArpInterval != 50 || *merged.Mode != 1 || *merged.ArpValidate != 5 {
		t.Errorf("merged %s", testsupport.MustJSON(merged))
	}
}

// TestSpecHelmDefaults: the bonding defaults are the spec's helm values.
func TestSpecHelmDefaults(t *testing.T) {
	d := api.Defaults()
	if *d.Mode != api.ModeActiveBackup || *d.ArpInterval != 100 || *d.ArpValidate != 5 || *d.FailOverMac != 1 ||
		d.Primary != nil || d.ArpIPTarget != nil || d.Miimon != nil {
		t.Fatalf("Defaults() = %s", testsupport.MustJSON(d))
	}
	// A client start that gives no bonding gets the spec's defaults and
	// its first TAP as primary; the targets come from the hub later.
	var c api.Client
	body := clientBody(func(c clientParts) { delete(c.bond, "bonding") })
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	want := api.Defaults()
	want.Primary = testsupport.Ptr("tap1")
	if !reflect.DeepEqual(c.Bonding, want) {
		t.Errorf("bonding %s, want %s", testsupport.MustJSON(c.Bonding), testsupport.MustJSON(want))
	}
}

func TestRoundTrip(t *testing.T) {
	servers := []string{
		string(testsupport.SpecBody(t, "spec_server_start.json")),
		`{"bridge_interface": "br-lan", "bridge_ip": "10.9.0.1/16", "links": 16, "port_base": 65520, "tap_prefix": "t"}`,
		`{"bridge_interface": "br1", "bridge_ip": "192.0.2.1/30", "links": "1", "port_base": "1"}`,
	}
	for _, body := range servers {
		roundTrip(t, testsupport.Decode[api.Server](t, body))
	}

	clients := []string{
		string(testsupport.SpecBody(t, "spec_client_start.json")),
		clientBody(nil),
		clientBody(func(c clientParts) {
			c.top["server_token"] = "s3cret-token"
			c.top["server_bridge"] = "br0"
			c.bond["tap_prefix"] = "vpn"
			c.bond["ip_address"] = "10.8.0.253/25"
			c.slave(0)["gateway"] = "158.42.89.1"
			delete(c.slave(1), "netmask") // defaults to /24
			apply(c.bonding, []any{"primary", "", "arp_ip_target", []string{"10.8.0.254", "10.8.0.1"}, "arp_missed_max", 3, "num_grat_arp", 0})
		}),
		clientBody(func(c clientParts) {
			for k := range c.bonding {
				delete(c.bonding, k)
			}
			apply(c.bonding, []any{"miimon", 100, "updelay", 200, "downdelay", "100", "peer_notif_delay", 0})
		}),
		clientBody(func(c clientParts) {
			for k := range c.bonding {
				delete(c.bonding, k)
			}
			apply(c.bonding, []any{"mode", "802.3ad", "all_slaves_active", 1})
		}),
		clientBody(func(c clientParts) { c.bonding["arp_ip_target"] = "" }),
	}
	for _, body := range clients {
		roundTrip(t, testsupport.Decode[api.Client](t, body))
	}

	params := []string{
		string(testsupport.SpecBody(t, "spec_bond_params.json")),
		`{"arp_ip_target": []}`,
		`{"arp_ip_target": ""}`,
		`{"primary": ""}`,
		`{"bonding_mode": "balance-alb", "primary": "tap1", "active_slave": "tap2", "arp_interval": 0, "arp_ip_target": "10.0.0.1,10.0.0.2",
		  "arp_validate": "none", "arp_missed_max": 255, "fail_over_mac": "follow", "primary_reselect": "failure",
		  "num_grat_arp": 255, "peer_notif_delay": 0, "miimon": 2147483647, "updelay": 0, "downdelay": 0, "all_slaves_active": 0}`,
	}
	for _, body := range params {
		roundTrip(t, testsupport.Decode[api.BondParams](t, body))
	}
}
