package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
)

// specValues is the spec's helm values (serverConfig and clientConfig)
// in the API's shape.
const specValues = `
# the server side (serverConfig in the spec's helm chart)
server:
  bridge_interface: br0
  bridge_ip: 10.8.0.254
  links: 2
# the client side (clientConfig), on a host that is both
client:
  server_api_url: http://158.42.89.111:3333
  bond:
    bond0:
      ip_address: 10.8.0.253
      tap_prefix: ctap
      slaves:
        [{ "hw_int": "eth0",  "ip_server": "158.42.89.111",   "netmask": "255.255.255.0" },
         { "hw_int": "wlan0", "ip_server": "192.168.150.100", "netmask": "255.255.255.0" }]
      bonding:
        primary: ctap1
        arp_ip_target: 10.8.0.254
        bonding_mode: 1
        arp_interval: 50
        fail_over_mac: 1
        arp_validate: 5
`

func TestParseFileSpec(t *testing.T) {
	f, err := ParseFile([]byte(specValues))
	if err != nil {
		t.Fatal(err)
	}
	wantServer := api.Server{BridgeInterface: "br0", BridgeIP: netip.MustParsePrefix("10.8.0.254/24"), Links: 2, PortBase: 1191, TapPrefix: "tap"}
	if len(f.Servers) != 1 || !reflect.DeepEqual(f.Servers[0], wantServer) {
		t.Errorf("servers %+v", f.Servers)
	}
	if len(f.Clients) != 1 {
		t.Fatalf("clients %+v", f.Clients)
	}
	c := f.Clients[0]
	wantBonding := api.BondParams{Mode: testsupport.Ptr(1), Primary: testsupport.Ptr("ctap1"), ArpInterval: testsupport.Ptr(50), ArpIPTarget: testsupport.Addrs("10.8.0.254"), ArpValidate: testsupport.Ptr(5), FailOverMac: testsupport.Ptr(1)}
	if c.Bond != "bond0" || c.ServerAPIURL != "http://158.42.89.111:3333" || len(c.Slaves) != 2 ||
		c.Slaves[1].HWInt != "wlan0" || c.Slaves[1].Netmask != 24 || !reflect.DeepEqual(c.Bonding, wantBonding) {
		t.Errorf("client %s", testsupport.MustJSON(c))
	}

	// The daemon saves its state as JSON and reads it back with ParseFile.
	js, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseFile(js)
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	if !reflect.DeepEqual(back, f) {
		t.Errorf("round trip:\n%s\n%s", testsupport.MustJSON(f), testsupport.MustJSON(back))
	}
}

func TestParseFile(t *testing.T) {
	tests := []struct {
		name             string
		yaml             string
		servers, clients int
	}{
		{"empty", "", 0, 0},
		{"blank", "\n  \n", 0, 0},
		{"comments only", "# nothing yet\n", 0, 0},
		{"empty object", "{}", 0, 0},
		{"lists", `
servers:
  - {bridge_interface: br0, bridge_ip: 10.8.0.254, links: 2}
  - {bridge_interface: br1, bridge_ip: 10.9.0.254, links: "2", port_base: 1291, tap_prefix: vpn}
clients:
  - server_api_url: http://192.0.2.1:3333
    bond: {bond0: {ip_address: 10.10.0.2, tap_prefix: c, slaves: [{hw_int: eth0, ip_server: 192.0.2.1}]}}
  - server_api_url: https://192.0.2.2
    server_api_pin: sha256//+AKmItTfD3g3mGVSkdpaOQLJiOJF32xPAhVe2zfeel8=
    bond: {bond1: {ip_address: 10.11.0.2, tap_prefix: d, slaves: [{hw_int: eth0, ip_server: 192.0.2.2, netmask: 24}]}}
`, 2, 2},
		{"both forms", `
server: {bridge_interface: br0, bridge_ip: 10.8.0.254, links: 2}
servers: [{bridge_interface: br1, bridge_ip: 10.9.0.254, links: 2, port_base: 2000, tap_prefix: x}]
`, 2, 0},
		{"JSON", `{"servers": [{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": "2"}]}`, 1, 0},
		{"empty lists", "servers: []\nclients: []\n", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFile([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Servers) != tc.servers || len(f.Clients) != tc.clients {
				t.Errorf("%d servers, %d clients", len(f.Servers), len(f.Clients))
			}
			if err := f.Check(); err != nil {
				t.Error(err)
			}
		})
	}

	f, err := ParseFile([]byte(tests[5].yaml))
	if err != nil {
		t.Fatal(err)
	}
	if f.Servers[0].BridgeInterface != "br0" || f.Servers[1].BridgeInterface != "br1" {
		t.Errorf("server: then servers: gave %q, %q", f.Servers[0].BridgeInterface, f.Servers[1].BridgeInterface)
	}
}

func TestParseFileRejects(t *testing.T) {
	const srv = "{bridge_interface: br0, bridge_ip: 10.8.0.254, links: 2}"
	const cli = "{server_api_url: 'http://192.0.2.1:3333', bond: {bond0: {ip_address: 10.10.0.2, slaves: [{hw_int: eth0, ip_server: 192.0.2.1}]}}}"
	tests := []struct {
		name, yaml, field string
	}{
		{"not YAML", "servers: [\n", ""},
		{"tab indent", "server:\n\tlinks: 2\n", ""},
		{"key twice", "server: " + srv + "\nserver: " + srv + "\n", ""},
		{"list", "- " + srv + "\n", ""},
		{"scalar", "br0\n", ""},
		{"unknown top-level key", "serverConfig: " + srv + "\n", "serverConfig"},
		{"helm key", "clientConfig: {serverApiUrl: 'http://x'}\n", "clientConfig"},
		{"servers not a list", "servers: " + srv + "\n", "servers"},
		{"servers null", "servers:\n", "servers"},
		{"server null", "server:\n", "server"},
		{"server bad value", "server: {bridge_interface: br0, bridge_ip: 10.8.0.254, links: 17}\n", "server.links"},
		{"server unknown key", "server: {bridge_interface: br0, bridge_ip: 10.8.0.254, links: 2, mtu: 1400}\n", "server.mtu"},
		{"server YAML bool", "server: {bridge_interface: no, bridge_ip: 10.8.0.254, links: 2}\n", "server.bridge_interface"},
		{"bad value in a list", "servers:\n  - " + srv + "\n  - {bridge_interface: br1, bridge_ip: 10.9.0.0, links: 2}\n", "servers[1].bridge_ip"},
		{"bad value deep inside", "clients:\n  - " + cli + "\n  - {server_api_url: 'http://192.0.2.1', bond: {bond1: {ip_address: 10.11.0.2, slaves: [{hw_int: eth1, ip_server: 192.0.2.1, netmask: 255.0.255.0}]}}}\n",
			"clients[1].bond.bond1.slaves[0].netmask"},
		{"unknown key deep inside", "client: {server_api_url: 'http://192.0.2.1', bond: {bond1: {ip_address: 10.11.0.2, slaves: [{hw_int: eth1, ip_server: 192.0.2.1}], bonding: {lacp_rate: 1}}}}\n",
			"client.bond.bond1.bonding.lacp_rate"},
		// Entries against each other.
		{"bridge twice", "servers: [" + srv + ", {bridge_interface: br0, bridge_ip: 10.9.0.254, links: 2, tap_prefix: x, port_base: 2000}]\n", "servers[1].bridge_interface"},
		{"TAPs twice", "servers: [" + srv + ", {bridge_interface: br1, bridge_ip: 10.9.0.254, links: 2, port_base: 2000}]\n", "servers[1].tap_prefix"},
		{"ports overlap", "servers: [" + srv + ", {bridge_interface: br1, bridge_ip: 10.9.0.254, links: 2, tap_prefix: x, port_base: 1192}]\n", "servers[1].port_base"},
		{"server and client TAPs", "server: " + srv + "\nclient: " + cli + "\n", "clients[0].bond.bond0.tap_prefix"},
		{"bond twice", "clients: [" + cli + ", " + cli + "]\n", "clients[1].bond"},
		{"bond is a bridge", "server: {bridge_interface: bond0, bridge_ip: 10.8.0.254, links: 1, tap_prefix: s}\nclient: " + cli + "\n", "clients[0].bond"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFile([]byte(tc.yaml))
			testsupport.WantInvalid(t, err, tc.field)
			if f.Servers != nil || f.Clients != nil {
				t.Errorf("a rejected file gave %+v", f)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "multilink.yaml")
	if err := os.WriteFile(good, []byte(specValues), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := LoadFile(good)
	if err != nil || len(f.Servers) != 1 || len(f.Clients) != 1 {
		t.Fatalf("%+v, %v", f, err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("server: {links: 2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFile(bad)
	if errkind.KindOf(err) != errkind.KindInvalid || errkind.FieldOf(err) != "server.bridge_ip" {
		t.Errorf("bad file: %v (field %q)", err, errkind.FieldOf(err))
	}

	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
