package restapi

import (
	"net/http"
	"strings"
	"testing"
)

// TestBadInput: every bad request is answered 4xx with a JSON error, and
// nothing behind the API is called.
func TestBadInput(t *testing.T) {
	huge := `{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": "2", "x": "` + strings.Repeat("a", DefaultMaxBody) + `"}`
	cases := []struct {
		name, method, path, body string
		code                     int
		field                    string
	}{
		// Bodies.
		{"empty body", "POST", "/v1/server/start", "", 400, ""},
		{"blank body", "POST", "/v1/client/start", " \n\t", 400, ""},
		{"malformed JSON", "POST", "/v1/server/start", `{"bride_interface": "br0",`, 400, ""},
		{"trailing garbage", "POST", "/v1/server/start", `{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": 2} {}`, 400, ""},
		{"array body", "POST", "/v1/server/start", `[1, 2]`, 400, ""},
		{"null body", "POST", "/v1/server/start", `null`, 400, ""},
		{"string body", "POST", "/v1/client/start", `"bond0"`, 400, ""},
		{"unknown field", "POST", "/v1/server/start", `{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": 2, "mtu": 1400}`, 400, ""},
		{"both bridge spellings", "POST", "/v1/server/start", `{"bride_interface": "br0", "bridge_interface": "br1", "bridge_ip": "10.8.0.254", "links": 2}`, 400, "bridge_interface"},
		{"bad bridge name in body", "POST", "/v1/server/start", `{"bride_interface": "br0;reboot", "bridge_ip": "10.8.0.254", "links": 2}`, 400, "bridge_interface"},
		{"links out of range", "POST", "/v1/server/start", `{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": "17"}`, 400, "links"},
		{"links zero", "POST", "/v1/server/start", `{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": 0}`, 400, "links"},
		{"links wrong type", "POST", "/v1/server/start", `{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": [2]}`, 400, "links"},
		{"links not whole", "POST", "/v1/server/start", `{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": 2.5}`, 400, "links"},
		{"bridge_ip not an address", "POST", "/v1/server/start", `{"bride_interface": "br0", "bridge_ip": "10.8.0.300", "links": 2}`, 400, "bridge_ip"},
		{"bridge_ip IPv6", "POST", "/v1/server/start", `{"bride_interface": "br0", "bridge_ip": "fd00::1", "links": 2}`, 400, "bridge_ip"},
		{"bridge_ip wrong type", "POST", "/v1/server/start", `{"bride_interface": "br0", "bridge_ip": 10, "links": 2}`, 400, "bridge_ip"},
		{"huge body", "POST", "/v1/server/start", huge, 413, ""},
		{"client without bond", "POST", "/v1/client/start", `{"server_api_url": "http://192.0.2.1:3333"}`, 400, "bond"},
		{"client bad url", "POST", "/v1/client/start", strings.Replace(clientBody, "http://192.0.2.1:3333", "ftp://x", 1), 400, "server_api_url"},
		{"client bad slave ip", "POST", "/v1/client/start", strings.Replace(clientBody, "192.0.2.1\"", "192.0.2.999\"", 1), 400, "bond.bond0.slaves[0].ip_server"},
		{"client bad hw_int", "POST", "/v1/client/start", strings.Replace(clientBody, "eth0", "eth0 ; reboot", 1), 400, "bond.bond0.slaves[0].hw_int"},
		{"client bad bond name", "POST", "/v1/client/start", strings.Replace(clientBody, `"bond0"`, `"../bond0"`, 1), 400, "bond"},
		{"client unknown bonding field", "POST", "/v1/client/start", strings.Replace(clientBody, `"arp_interval": "100"`, `"arp_interval": "100", "lacp_rate": 1`, 1), 400, ""},
		{"client arp_interval out of range", "POST", "/v1/client/start", strings.Replace(clientBody, `"arp_interval": "100"`, `"arp_interval": "-1"`, 1), 400, "bond.bond0.bonding.arp_interval"},
		{"bond_params empty object", "PUT", "/v1/client/bond_params/bond0", `{}`, 400, ""},
		{"bond_params empty body", "PUT", "/v1/client/bond_params/bond0", ``, 400, ""},
		{"bond_params unknown", "PUT", "/v1/client/bond_params/bond0", `{"primary": "tap2", "xmit_hash_policy": 1}`, 400, ""},
		{"bond_params bad mode", "PUT", "/v1/client/bond_params/bond0", `{"bonding_mode": "7"}`, 400, "bonding_mode"},
		{"bond_params bad primary", "PUT", "/v1/client/bond_params/bond0", `{"primary": "tap2/x"}`, 400, "primary"},
		{"bond_params bad target", "PUT", "/v1/client/bond_params/bond0", `{"arp_ip_target": "10.8.0.254,fe80::1"}`, 400, "arp_ip_target"},
		{"bond_params wrong type", "PUT", "/v1/client/bond_params/bond0", `{"arp_interval": true}`, 400, "arp_interval"},
		{"bond_params number too big", "PUT", "/v1/client/bond_params/bond0", `{"miimon": 99999999999999999999}`, 400, "miimon"},
		{"ping without ip", "POST", "/v1/ping_test", `{}`, 400, "ip"},
		{"ping bad ip", "POST", "/v1/ping_test", `{"ip": "10.8.0.256"}`, 400, "ip"},
		{"ping hostname", "POST", "/v1/ping_test", `{"ip": "example.com"}`, 400, "ip"},
		{"ping shell", "POST", "/v1/ping_test", `{"ip": "127.0.0.1; reboot"}`, 400, "ip"},
		{"ping multicast", "POST", "/v1/ping_test", `{"ip": "ff02::1"}`, 400, "ip"},
		{"ping count out of range", "POST", "/v1/ping_test", `{"ip": "10.8.0.254", "count": 1000}`, 400, "count"},
		{"ping negative timeout", "POST", "/v1/ping_test", `{"ip": "10.8.0.254", "timeout_ms": -5}`, 400, "timeout_ms"},
		{"ping too long", "POST", "/v1/ping_test", `{"ip": "10.8.0.254", "count": 100, "interval_ms": 5000}`, 400, "count"},
		{"ping unknown field", "POST", "/v1/ping_test", `{"ip": "10.8.0.254", "ttl": 1}`, 400, "ttl"},
		{"ping empty body", "POST", "/v1/ping_test", ``, 400, ""},
		// Path parameters.
		{"stop server shell", "POST", "/v1/server/stop/br0;reboot", "", 400, "bridge_interface"},
		{"stop server 16 chars", "POST", "/v1/server/stop/abcdefghijklmnop", "", 400, "bridge_interface"},
		{"stop server dotdot", "POST", "/v1/server/stop/..", "", 400, "bridge_interface"},
		{"stop client escaped slash", "POST", "/v1/client/stop/..%2Fx", "", 400, "bond_interface"},
		{"stop client space", "POST", "/v1/client/stop/bond%200", "", 400, "bond_interface"},
		{"tap_down shell", "POST", "/v1/tap_down/tap1;reboot", "", 400, "tap"},
		{"tap_up shell", "POST", "/v1/tap_up/tap1;reboot", "", 400, "tap"},
		{"tap_up 16 chars", "POST", "/v1/tap_up/tap0123456789abc", "", 400, "tap"},
		{"tap_up escaped slash", "POST", "/v1/tap_up/..%2Fx", "", 400, "tap"},
		{"tap_down NUL", "POST", "/v1/tap_down/tap%001", "", 400, "tap"},
		{"tap_down unicode", "POST", "/v1/tap_down/t%C3%A4p1", "", 400, "tap"},
		{"bond_params GET bad name", "GET", "/v1/client/bond_params/bond0$", "", 400, "bond_interface"},
		{"bond_params PUT bad name", "PUT", "/v1/client/bond_params/b%20ond0", `{"primary": "tap2"}`, 400, "bond_interface"},
		{"key bad bridge query", "GET", "/v1/server/key?bridge=br0%3Breboot", "", 400, "bridge"},
		{"key empty bridge query", "GET", "/v1/server/key?bridge=", "", 400, "bridge"},
		// Paths that are no route at all still answer JSON.
		{"tap path traversal", "POST", "/v1/tap_up/../x", "", 404, ""},
		{"stop without name", "POST", "/v1/server/stop/", "", 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAPI(t)
			e := wantError(t, a.do(tc.method, tc.path, tc.body), tc.code)
			if tc.field != "" && e.Field != tc.field {
				t.Errorf("field %q, want %q (error %q)", e.Field, tc.field, e.Error)
			}
			if c := a.rec.Calls(); len(c) != 0 {
				t.Errorf("behind the API was called: %q", c)
			}
		})
	}
}

// clientBody is a small valid client start body the bad-input cases edit.
const clientBody = `{"server_api_url": "http://192.0.2.1:3333", "bond": {"bond0": {
	"ip_address": "10.8.0.253",
	"slaves": [{"hw_int": "eth0", "ip_server": "192.0.2.1", "netmask": "255.255.255.0"}],
	"bonding": {"bonding_mode": "1", "arp_interval": "100"}}}}`

func TestClientBodyIsValid(t *testing.T) {
	a := newTestAPI(t)
	if w := a.do(http.MethodPost, "/v1/client/start", clientBody); w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// TestBodyLimit: MaxBody is honoured, and a body just under it passes.
func TestBodyLimit(t *testing.T) {
	d, rec := fakeDeps(testToken)
	d.MaxBody = 100
	a := newTestAPIWith(t, d, rec)
	body := `{"ip": "10.8.0.254"}`
	if w := a.do(http.MethodPost, "/v1/ping_test", body+strings.Repeat(" ", 100-len(body))); w.Code != http.StatusOK {
		t.Errorf("100 bytes: %d %s", w.Code, w.Body)
	}
	e := wantError(t, a.do(http.MethodPost, "/v1/ping_test", body+strings.Repeat(" ", 101-len(body))), http.StatusRequestEntityTooLarge)
	if !strings.Contains(e.Error, "100 bytes") {
		t.Errorf("error %q", e.Error)
	}
}
