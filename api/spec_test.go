package api

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"slices"
	"testing"
)

func specServer(t *testing.T) Server {
	t.Helper()
	var s Server
	if err := json.Unmarshal(readSpec(t, "spec_server_start.json"), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func specClient(t *testing.T) Client {
	t.Helper()
	var c Client
	if err := json.Unmarshal(readSpec(t, "spec_client_start.json"), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSpecServerStart(t *testing.T) {
	want := Server{
		BridgeInterface: "br0",
		BridgeIP:        netip.MustParsePrefix("10.8.0.254/24"),
		Links:           2,
		PortBase:        1191,
		TapPrefix:       "tap",
	}
	got := specServer(t)
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
	if n := IPNet(got.BridgeIP).String(); n != "10.8.0.254/24" {
		t.Errorf("IPNet %s", n)
	}
}

func TestSpecClientStart(t *testing.T) {
	want := Client{
		ServerAPIURL: "http://158.42.89.111:3333",
		Bond:         "bond0",
		Address:      netip.MustParsePrefix("10.8.0.253/24"),
		Slaves: []Slave{
			{HWInt: "eth0", IPServer: netip.MustParseAddr("158.42.89.111"), Netmask: 24},
			{HWInt: "wlan0", IPServer: netip.MustParseAddr("192.168.150.100"), Netmask: 24},
		},
		Bonding: BondParams{
			Mode:        ptr(1),
			Primary:     ptr("tap1"),
			ArpInterval: ptr(100),
			ArpIPTarget: addrs("10.8.0.254"),
			ArpValidate: ptr(5),
			FailOverMac: ptr(1),
		},
		TapPrefix: "tap",
	}
	got := specClient(t)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %s\nwant %s", mustJSON(got), mustJSON(want))
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
	var p BondParams
	if err := json.Unmarshal(readSpec(t, "spec_bond_params.json"), &p); err != nil {
		t.Fatal(err)
	}
	want := BondParams{Primary: ptr("tap2"), ArpInterval: ptr(50)}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %s, want %s", mustJSON(p), mustJSON(want))
	}
	// Applied to the spec's client, the effective set is valid.
	c := specClient(t)
	merged := c.Bonding.Merge(p)
	if err := merged.Check(c.Taps()); err != nil {
		t.Fatal(err)
	}
	if *merged.Primary != "tap2" || *merged.ArpInterval != 50 || *merged.Mode != 1 || *merged.ArpValidate != 5 {
		t.Errorf("merged %s", mustJSON(merged))
	}
}

// TestSpecHelmDefaults: the bonding defaults are the spec's helm values.
func TestSpecHelmDefaults(t *testing.T) {
	d := Defaults()
	if *d.Mode != ModeActiveBackup || *d.ArpInterval != 100 || *d.ArpValidate != 5 || *d.FailOverMac != 1 ||
		d.Primary != nil || d.ArpIPTarget != nil || d.Miimon != nil {
		t.Fatalf("Defaults() = %s", mustJSON(d))
	}
	// A client start that gives no bonding gets the spec's defaults and
	// its first TAP as primary; the targets come from the hub later.
	var c Client
	body := clientBody(func(c clientParts) { delete(c.bond, "bonding") })
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.Primary = ptr("tap1")
	if !reflect.DeepEqual(c.Bonding, want) {
		t.Errorf("bonding %s, want %s", mustJSON(c.Bonding), mustJSON(want))
	}
}

func TestRoundTrip(t *testing.T) {
	servers := []string{
		string(readSpec(t, "spec_server_start.json")),
		`{"bridge_interface": "br-lan", "bridge_ip": "10.9.0.1/16", "links": 16, "port_base": 65520, "tap_prefix": "t"}`,
		`{"bridge_interface": "br1", "bridge_ip": "192.0.2.1/30", "links": "1", "port_base": "1"}`,
	}
	for _, body := range servers {
		var a, b Server
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatalf("%s does not read back: %v", out, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("round trip of %s: %+v != %+v", body, a, b)
		}
	}

	clients := []string{
		string(readSpec(t, "spec_client_start.json")),
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
		var a, b Client
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatalf("%s does not read back: %v", out, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("round trip of %s:\n%s\n%s", body, mustJSON(a), mustJSON(b))
		}
	}

	params := []string{
		string(readSpec(t, "spec_bond_params.json")),
		`{"arp_ip_target": []}`,
		`{"arp_ip_target": ""}`,
		`{"primary": ""}`,
		`{"bonding_mode": "balance-alb", "primary": "tap1", "active_slave": "tap2", "arp_interval": 0, "arp_ip_target": "10.0.0.1,10.0.0.2",
		  "arp_validate": "none", "arp_missed_max": 255, "fail_over_mac": "follow", "primary_reselect": "failure",
		  "num_grat_arp": 255, "peer_notif_delay": 0, "miimon": 2147483647, "updelay": 0, "downdelay": 0, "all_slaves_active": 0}`,
	}
	for _, body := range params {
		var a, b BondParams
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatalf("%s does not read back: %v", out, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("round trip of %s: %s != %s", body, mustJSON(a), out)
		}
	}
}
