package api_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/testsupport"
)

type badCase struct {
	name  string
	body  string
	field string // "" for the body as a whole
}

// checkBad decodes every case into a copy of good with UnmarshalJSON (and
// with json.Unmarshal where the body is valid JSON) and wants KindInvalid
// naming the field, and good unchanged.
func checkBad[T any, P interface {
	*T
	json.Unmarshaler
}](t *testing.T, good T, cases []badCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := good
			testsupport.WantInvalid(t, P(&v).UnmarshalJSON([]byte(tc.body)), tc.field)
			if !reflect.DeepEqual(v, good) {
				t.Errorf("a rejected body changed the value: %+v", v)
			}
			if json.Valid([]byte(tc.body)) {
				v := good
				testsupport.WantInvalid(t, json.Unmarshal([]byte(tc.body), &v), tc.field)
			}
		})
	}
}

// badNames are interface names every name field must refuse.
var badNames = []struct{ name, value string }{
	{"empty", ""},
	{"16 bytes", "abcdefghijklmnop"},
	{"shell", "tap1;reboot"},
	{"path", "../x"},
	{"slash", "br/0"},
	{"space", "a b"},
	{"newline", "eth0\n"},
	{"NUL", "eth\x000"},
	{"unicode", "täp1"},
	{"dot", "."},
	{"dotdot", ".."},
	{"colon", "eth0:1"},
	{"quote", `br"0`},
	{"hash", "br#0"},
}

func TestServerRejects(t *testing.T) {
	cases := []badCase{
		// Bodies.
		{"null body", `null`, ""},
		{"array body", `[1, 2]`, ""},
		{"string body", `"br0"`, ""},
		{"number body", `2`, ""},
		{"empty body", ``, ""},
		{"blank body", " \n", ""},
		{"truncated", `{"bride_interface": "br0",`, ""},
		{"trailing object", serverBody() + ` {}`, ""},
		{"trailing garbage", serverBody() + ` x`, ""},
		{"trailing brace", serverBody() + `}`, ""},
		{"trailing bracket", serverBody() + `]`, ""},
		{"trailing comma", `{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": 2,}`, ""},
		{"key twice", `{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": 2, "links": 3}`, "links"},
		{"unknown field", serverBody("mtu", 1400), "mtu"},
		{"unknown fields", serverBody("mtu", 1400, "a", 1), "a"},
		{"case matters", serverBody("Links", 2), "Links"},
		{"both spellings", serverBody("bridge_interface", "br1"), "bridge_interface"},
		{"both spellings, same value", serverBody("bridge_interface", "br0"), "bridge_interface"},
		// Missing and wrong types.
		{"no bridge", serverBody("bride_interface", del), "bridge_interface"},
		{"no bridge_ip", serverBody("bridge_ip", del), "bridge_ip"},
		{"no links", serverBody("links", del), "links"},
		{"bridge number", serverBody("bride_interface", 5), "bride_interface"},
		{"bridge null", serverBody("bride_interface", nil), "bride_interface"},
		{"bridge_ip number", serverBody("bridge_ip", 10), "bridge_ip"},
		{"bridge_ip array", serverBody("bridge_ip", []string{"10.8.0.254"}), "bridge_ip"},
		{"bridge_ip null", serverBody("bridge_ip", nil), "bridge_ip"},
		{"links array", serverBody("links", []int{2}), "links"},
		{"links bool", serverBody("links", true), "links"},
		{"links object", serverBody("links", map[string]int{}), "links"},
		{"links null", serverBody("links", nil), "links"},
		{"tap_prefix number", serverBody("tap_prefix", 1), "tap_prefix"},
		// links.
		{"links 0", serverBody("links", 0), "links"},
		{"links 17", serverBody("links", 17), "links"},
		{"tunnel_mode unknown", serverBody("tunnel_mode", "psk"), "tunnel_mode"},
		{"tunnel_mode number", serverBody("tunnel_mode", 1), "tunnel_mode"},
		{"links -1", serverBody("links", -1), "links"},
		{"links 2.5 string", serverBody("links", "2.5"), "links"},
		{"links 2.5", serverBody("links", 2.5), "links"},
		{"links 1e3 string", serverBody("links", "1e3"), "links"},
		{"links 1e3", `{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": 1e3}`, "links"},
		{"links 1e400", `{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": 1e400}`, "links"},
		{"links huge", `{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": 99999999999999999999}`, "links"},
		{"links two", serverBody("links", "two"), "links"},
		{"links empty", serverBody("links", ""), "links"},
		{"links hex", serverBody("links", "0x2"), "links"},
		// port_base.
		{"port_base 0", serverBody("port_base", 0), "port_base"},
		{"port_base -1", serverBody("port_base", "-1"), "port_base"},
		{"port_base 65536", serverBody("port_base", 65536), "port_base"},
		{"port_base 65535 with 2 links", serverBody("port_base", 65535), "port_base"},
		{"port_base 65530 with 16 links", serverBody("port_base", 65530, "links", 16), "port_base"},
		// tap_prefix.
		{"tap names too long", serverBody("tap_prefix", "abcdefghijklmno"), "tap_prefix"},
		{"tap name 16 bytes at link 10", serverBody("tap_prefix", "abcdefghijklmn", "links", 10), "tap_prefix"},
		{"tap_prefix shell", serverBody("tap_prefix", "t;"), "tap_prefix"},
		{"tap clashes with bridge", serverBody("bride_interface", "tap2"), "tap_prefix"},
		{"tap clashes with bridge (prefix)", serverBody("tap_prefix", "br", "bride_interface", "br1"), "tap_prefix"},
		// bridge_ip.
		{"ip empty", serverBody("bridge_ip", ""), "bridge_ip"},
		{"ip not an address", serverBody("bridge_ip", "10.8.0.300"), "bridge_ip"},
		{"ip hostname", serverBody("bridge_ip", "hub.local"), "bridge_ip"},
		{"ip v6", serverBody("bridge_ip", "fd00::1"), "bridge_ip"},
		{"ip v6 prefix", serverBody("bridge_ip", "fd00::1/64"), "bridge_ip"},
		{"ip v4-mapped v6", serverBody("bridge_ip", "::ffff:10.8.0.254"), "bridge_ip"},
		{"ip network address", serverBody("bridge_ip", "10.8.0.0"), "bridge_ip"},
		{"ip broadcast", serverBody("bridge_ip", "10.8.0.255"), "bridge_ip"},
		{"ip broadcast /16", serverBody("bridge_ip", "10.8.255.255/16"), "bridge_ip"},
		{"ip network /16", serverBody("bridge_ip", "10.8.0.0/16"), "bridge_ip"},
		{"ip 0.0.0.0", serverBody("bridge_ip", "0.0.0.0"), "bridge_ip"},
		{"ip 0/8", serverBody("bridge_ip", "0.1.2.3"), "bridge_ip"},
		{"ip 255.255.255.255", serverBody("bridge_ip", "255.255.255.255"), "bridge_ip"},
		{"ip multicast", serverBody("bridge_ip", "224.0.0.1"), "bridge_ip"},
		{"ip loopback", serverBody("bridge_ip", "127.0.0.1"), "bridge_ip"},
		{"ip /31", serverBody("bridge_ip", "10.8.0.254/31"), "bridge_ip"},
		{"ip /32", serverBody("bridge_ip", "10.8.0.254/32"), "bridge_ip"},
		{"ip /33", serverBody("bridge_ip", "10.8.0.254/33"), "bridge_ip"},
		{"ip /0", serverBody("bridge_ip", "10.8.0.254/0"), "bridge_ip"},
		{"ip only /33", serverBody("bridge_ip", "/33"), "bridge_ip"},
		{"ip netmask form", serverBody("bridge_ip", "10.8.0.254/255.255.255.0"), "bridge_ip"},
		{"ip leading zeros", serverBody("bridge_ip", "010.8.0.254"), "bridge_ip"},
		{"ip zone", serverBody("bridge_ip", "10.8.0.254%eth0"), "bridge_ip"},
	}
	for _, n := range badNames {
		cases = append(cases, badCase{"bridge name " + n.name, serverBody("bride_interface", n.value), "bridge_interface"})
	}
	checkBad(t, testsupport.SpecServer(t), cases)
}

func TestClientRejects(t *testing.T) {
	const (
		bond    = "bond.bond0."
		bonding = bond + "bonding."
		slave0  = bond + "slaves[0]."
		slave1  = bond + "slaves[1]."
	)
	top := func(k string, v any) string { return clientBody(func(c clientParts) { apply(c.top, []any{k, v}) }) }
	inBond := func(k string, v any) string { return clientBody(func(c clientParts) { apply(c.bond, []any{k, v}) }) }
	inSlave := func(i int, kv ...any) string { return clientBody(func(c clientParts) { apply(c.slave(i), kv) }) }
	slaves := func(n int) string {
		return clientBody(func(c clientParts) {
			s := []any{}
			for i := range n {
				s = append(s, map[string]any{"hw_int": "eth" + strconv.Itoa(i), "ip_server": "192.0.2.1"})
			}
			c.bond["slaves"] = s
		})
	}
	tooMany := make([]string, 17)
	for i := range tooMany {
		tooMany[i] = "10.8.1." + strconv.Itoa(i+1)
	}
	spec := clientBody(nil)
	cases := []badCase{
		// Bodies.
		{"null body", `null`, ""},
		{"array body", `[]`, ""},
		{"string body", `"bond0"`, ""},
		{"trailing garbage", spec + ` x`, ""},
		{"trailing brace", spec + `}`, ""},
		{"key twice", strings.Replace(spec, `"server_api_url"`, `"server_api_url": "http://x", "server_api_url"`, 1), "server_api_url"},
		// Unknown fields, at every level.
		{"unknown top", top("server", "x"), "server"},
		{"unknown in bond", inBond("mtu", 1400), bond + "mtu"},
		{"unknown in slave", inSlave(1, "vlan", 10), slave1 + "vlan"},
		{"unknown in bonding", bondingBody("lacp_rate", 1), bonding + "lacp_rate"},
		{"unknown in bonding (module name)", bondingBody("max_bonds", 1), bonding + "max_bonds"},
		{"mode given twice", bondingBody("mode", "active-backup"), bonding + "bonding_mode"},
		// bond.
		{"no bond", top("bond", del), "bond"},
		{"bond null", top("bond", nil), "bond"},
		{"bond array", top("bond", []any{}), "bond"},
		{"bond string", top("bond", "bond0"), "bond"},
		{"no bonds", top("bond", map[string]any{}), "bond"},
		{"two bonds", clientBody(func(c clientParts) { c.top["bond"].(map[string]any)["bond1"] = c.bond }), "bond"},
		{"bond named twice", strings.Replace(spec, `"bond":{"bond0":`, `"bond":{"bond0":{},"bond0":`, 1), "bond.bond0"},
		{"bond value null", top("bond", map[string]any{"bond0": nil}), "bond.bond0"},
		{"bond value array", top("bond", map[string]any{"bond0": []any{}}), "bond.bond0"},
		{"bond name shell", strings.Replace(spec, `"bond0"`, `"bond0;reboot"`, 1), "bond"},
		{"bond name too long", strings.Replace(spec, `"bond0"`, `"bond0123456789ab"`, 1), "bond"},
		{"bond name path", strings.Replace(spec, `"bond0"`, `"../bond0"`, 1), "bond"},
		{"bond name empty", strings.Replace(spec, `"bond0"`, `""`, 1), "bond"},
		// ip_address.
		{"no ip_address", inBond("ip_address", del), bond + "ip_address"},
		{"ip_address number", inBond("ip_address", 10), bond + "ip_address"},
		{"ip_address v6", inBond("ip_address", "fd00::2"), bond + "ip_address"},
		{"ip_address network", inBond("ip_address", "10.8.0.0"), bond + "ip_address"},
		{"ip_address broadcast", inBond("ip_address", "10.8.0.255/24"), bond + "ip_address"},
		{"ip_address /31", inBond("ip_address", "10.8.0.254/31"), bond + "ip_address"},
		{"ip_address /33", inBond("ip_address", "10.8.0.254/33"), bond + "ip_address"},
		{"ip_address multicast", inBond("ip_address", "239.1.1.1"), bond + "ip_address"},
		{"ip_address loopback", inBond("ip_address", "127.0.0.2"), bond + "ip_address"},
		{"ip_address 0.0.0.0", inBond("ip_address", "0.0.0.0"), bond + "ip_address"},
		// slaves.
		{"no slaves key", inBond("slaves", del), bond + "slaves"},
		{"slaves null", inBond("slaves", nil), bond + "slaves"},
		{"slaves object", inBond("slaves", map[string]any{}), bond + "slaves"},
		{"slaves string", inBond("slaves", "eth0"), bond + "slaves"},
		{"0 slaves", slaves(0), bond + "slaves"},
		{"9 slaves", slaves(9), bond + "slaves"},
		{"slave null", inBond("slaves", []any{nil}), bond + "slaves[0]"},
		{"slave string", inBond("slaves", []any{"eth0"}), bond + "slaves[0]"},
		{"duplicate hw_int", inSlave(1, "hw_int", "eth0"), slave1 + "hw_int"},
		{"hw_int is the bond", inSlave(0, "hw_int", "bond0"), slave0 + "hw_int"},
		{"hw_int is a TAP", inSlave(0, "hw_int", "tap2"), bond + "tap_prefix"},
		{"hw_int missing", inSlave(0, "hw_int", del), slave0 + "hw_int"},
		{"hw_int number", inSlave(0, "hw_int", 0), slave0 + "hw_int"},
		{"ip_server missing", inSlave(1, "ip_server", del), slave1 + "ip_server"},
		{"ip_server empty", inSlave(1, "ip_server", ""), slave1 + "ip_server"},
		{"ip_server v6", inSlave(1, "ip_server", "2001:db8::1"), slave1 + "ip_server"},
		{"ip_server hostname", inSlave(1, "ip_server", "hub.example"), slave1 + "ip_server"},
		{"ip_server with prefix", inSlave(1, "ip_server", "192.168.150.100/24"), slave1 + "ip_server"},
		{"ip_server multicast", inSlave(1, "ip_server", "224.0.0.1"), slave1 + "ip_server"},
		{"ip_server loopback", inSlave(1, "ip_server", "127.0.0.1"), slave1 + "ip_server"},
		{"ip_server broadcast", inSlave(1, "ip_server", "255.255.255.255"), slave1 + "ip_server"},
		{"ip_server network address", inSlave(1, "ip_server", "192.168.150.0"), slave1 + "ip_server"},
		{"ip_server subnet broadcast", inSlave(1, "ip_server", "192.168.150.255"), slave1 + "ip_server"},
		{"ip_server inside the bond's network", inSlave(1, "ip_server", "10.8.0.1"), slave1 + "ip_server"},
		{"netmask non-contiguous", inSlave(0, "netmask", "255.0.255.0"), slave0 + "netmask"},
		{"netmask 33", inSlave(0, "netmask", "33"), slave0 + "netmask"},
		{"netmask 0", inSlave(0, "netmask", 0), slave0 + "netmask"},
		{"netmask 0.0.0.0", inSlave(0, "netmask", "0.0.0.0"), slave0 + "netmask"},
		{"netmask abc", inSlave(0, "netmask", "abc"), slave0 + "netmask"},
		{"netmask v6", inSlave(0, "netmask", "ffff::"), slave0 + "netmask"},
		{"netmask -1", inSlave(0, "netmask", -1), slave0 + "netmask"},
		{"netmask bool", inSlave(0, "netmask", true), slave0 + "netmask"},
		{"gateway bad", inSlave(0, "gateway", "x"), slave0 + "gateway"},
		{"gateway v6", inSlave(0, "gateway", "fe80::1"), slave0 + "gateway"},
		{"gateway multicast", inSlave(0, "gateway", "224.0.0.1"), slave0 + "gateway"},
		{"gateway is ip_server", inSlave(0, "gateway", "158.42.89.111"), slave0 + "gateway"},
		// tap_prefix.
		{"tap names too long", inBond("tap_prefix", "abcdefghijklmno"), bond + "tap_prefix"},
		{"tap_prefix shell", inBond("tap_prefix", "t;"), bond + "tap_prefix"},
		{"tap clashes with the bond", strings.Replace(spec, `"bond0"`, `"tap1"`, 1), "bond.tap1.tap_prefix"},
		{"tap clashes with the bond (prefix)", strings.Replace(clientBody(func(c clientParts) { c.bond["tap_prefix"] = "bond"; c.bonding["primary"] = "bond1" }), `"bond0"`, `"bond2"`, 1), "bond.bond2.tap_prefix"},
		// server_api_url, server_token, server_bridge.
		{"url missing", top("server_api_url", del), "server_api_url"},
		{"url empty", top("server_api_url", ""), "server_api_url"},
		{"url number", top("server_api_url", 3333), "server_api_url"},
		{"url null", top("server_api_url", nil), "server_api_url"},
		{"url ftp", top("server_api_url", "ftp://x"), "server_api_url"},
		{"url no host", top("server_api_url", "http://"), "server_api_url"},
		{"url port only", top("server_api_url", "http://:3333"), "server_api_url"},
		{"url not a url", top("server_api_url", "not a url"), "server_api_url"},
		{"url no scheme", top("server_api_url", "158.42.89.111:3333"), "server_api_url"},
		{"url opaque", top("server_api_url", "http:158.42.89.111"), "server_api_url"},
		{"url port out of range", top("server_api_url", "http://158.42.89.111:99999"), "server_api_url"},
		{"url port 0", top("server_api_url", "http://158.42.89.111:0"), "server_api_url"},
		{"url query", top("server_api_url", "http://158.42.89.111:3333/?a=b"), "server_api_url"},
		{"url fragment", top("server_api_url", "http://158.42.89.111:3333/#x"), "server_api_url"},
		{"url space", top("server_api_url", " http://158.42.89.111:3333"), "server_api_url"},
		{"token with space", top("server_token", "a b"), "server_token"},
		{"token with newline", top("server_token", "a\r\nX-Evil: 1"), "server_token"},
		{"token number", top("server_token", 1), "server_token"},
		{"server_bridge shell", top("server_bridge", "br0;x"), "server_bridge"},
		// bonding: values.
		{"bonding null", inBond("bonding", nil), bond + "bonding"},
		{"bonding array", inBond("bonding", []any{}), bond + "bonding"},
		{"mode 7", bondingBody("bonding_mode", "7"), bonding + "bonding_mode"},
		{"mode name wrong", bondingBody("bonding_mode", "round-robin"), bonding + "bonding_mode"},
		{"arp_validate name wrong", bondingBody("arp_validate", "filter-active"), bonding + "arp_validate"},
		{"arp_validate 7", bondingBody("arp_validate", 7), bonding + "arp_validate"},
		{"fail_over_mac 3", bondingBody("fail_over_mac", "3"), bonding + "fail_over_mac"},
		{"primary_reselect wrong", bondingBody("primary_reselect", "sometimes"), bonding + "primary_reselect"},
		{"arp_interval -1", bondingBody("arp_interval", "-1"), bonding + "arp_interval"},
		{"arp_missed_max 0", bondingBody("arp_missed_max", 0), bonding + "arp_missed_max"},
		{"arp_missed_max 256", bondingBody("arp_missed_max", 256), bonding + "arp_missed_max"},
		// bonding: against the slaves.
		{"primary not a TAP", bondingBody("primary", "tap3"), bonding + "primary"},
		{"primary a hw_int", bondingBody("primary", "eth0"), bonding + "primary"},
		{"primary bad name", bondingBody("primary", "tap1;x"), bonding + "primary"},
		{"active_slave not a TAP", bondingBody("active_slave", "wlan0"), bonding + "active_slave"},
		// bonding: combinations the kernel refuses.
		{"arp_interval with miimon", bondingBody("miimon", 100), bonding + "arp_interval"},
		{"802.3ad with arp_interval", bondingBody("bonding_mode", "802.3ad", "primary", del), bonding + "arp_interval"},
		{"balance-alb with arp_interval", bondingBody("bonding_mode", 6), bonding + "arp_interval"},
		{"802.3ad with arp_validate", bondingBody("bonding_mode", 4, "primary", del, "arp_interval", del), bonding + "arp_validate"},
		{"802.3ad with arp_missed_max", bondingBody("bonding_mode", 4, "primary", del, "arp_interval", del, "arp_validate", del, "arp_missed_max", 2), bonding + "arp_missed_max"},
		{"primary in balance-rr", bondingBody("bonding_mode", "balance-rr"), bonding + "primary"},
		{"active_slave in 802.3ad", bondingBody("bonding_mode", 4, "primary", del, "arp_interval", 0, "arp_validate", 0, "active_slave", "tap1"), bonding + "active_slave"},
		{"updelay with ARP", bondingBody("updelay", 200), bonding + "updelay"},
		{"downdelay with miimon 0", bondingBody("arp_interval", 0, "miimon", 0, "downdelay", 200), bonding + "downdelay"},
		{"peer_notif_delay with ARP", bondingBody("peer_notif_delay", 100), bonding + "peer_notif_delay"},
		// bonding: targets.
		{"17 targets", bondingBody("arp_ip_target", tooMany), bonding + "arp_ip_target"},
		{"17 targets as a list", bondingBody("arp_ip_target", strings.Join(tooMany, ",")), bonding + "arp_ip_target"},
		{"duplicate target", bondingBody("arp_ip_target", "10.8.0.254,10.8.0.254"), bonding + "arp_ip_target"},
		{"v6 target", bondingBody("arp_ip_target", "10.8.0.254,fe80::1"), bonding + "arp_ip_target"},
		{"target 0.0.0.0", bondingBody("arp_ip_target", "0.0.0.0"), bonding + "arp_ip_target"},
		{"target broadcast", bondingBody("arp_ip_target", "255.255.255.255"), bonding + "arp_ip_target"},
		{"target null", bondingBody("arp_ip_target", nil), bonding + "arp_ip_target"},
		{"target number", bondingBody("arp_ip_target", 10), bonding + "arp_ip_target"},
		{"target is the bond", bondingBody("arp_ip_target", "10.8.0.254,10.8.0.253"), bonding + "arp_ip_target[1]"},
	}
	for _, n := range badNames {
		cases = append(cases, badCase{"hw_int " + n.name, inSlave(0, "hw_int", n.value), slave0 + "hw_int"})
	}
	checkBad(t, testsupport.SpecClient(t), cases)
}

func TestBondParamsRejects(t *testing.T) {
	tooMany := `"` + targets(17) + `"`
	cases := []badCase{
		{"null body", `null`, ""},
		{"array body", `[{"primary": "tap2"}]`, ""},
		{"trailing garbage", `{"primary": "tap2"} {"primary": "tap1"}`, ""},
		{"key twice", `{"primary": "tap2", "primary": "tap1"}`, "primary"},
		{"unknown", `{"primary": "tap2", "xmit_hash_policy": 1}`, "xmit_hash_policy"},
		{"unknown (sysfs name)", `{"slaves": "+tap1"}`, "slaves"},
		{"mode and bonding_mode", `{"mode": 1, "bonding_mode": 1}`, "bonding_mode"},
		{"num_grat_arp twice", `{"num_grat_arp": 1, "num_unsol_na": 1}`, "num_grat_arp"},
		{"mode 7", `{"bonding_mode": "7"}`, "bonding_mode"},
		{"mode -1", `{"bonding_mode": -1}`, "bonding_mode"},
		{"mode 1.0", `{"bonding_mode": 1.0}`, "bonding_mode"},
		{"mode name", `{"bonding_mode": "active_backup"}`, "bonding_mode"},
		{"mode null", `{"bonding_mode": null}`, "bonding_mode"},
		{"mode bool", `{"mode": true}`, "mode"},
		{"arp_validate 7", `{"arp_validate": 7}`, "arp_validate"},
		{"arp_validate name", `{"arp_validate": "filter-active"}`, "arp_validate"},
		{"fail_over_mac 3", `{"fail_over_mac": "3"}`, "fail_over_mac"},
		{"fail_over_mac name", `{"fail_over_mac": "passive"}`, "fail_over_mac"},
		{"primary_reselect 3", `{"primary_reselect": 3}`, "primary_reselect"},
		{"arp_interval -1", `{"arp_interval": -1}`, "arp_interval"},
		{"arp_interval 2.5", `{"arp_interval": "2.5"}`, "arp_interval"},
		{"arp_interval 1e3", `{"arp_interval": 1e3}`, "arp_interval"},
		{"arp_interval too big", `{"arp_interval": 2147483648}`, "arp_interval"},
		{"arp_interval bool", `{"arp_interval": true}`, "arp_interval"},
		{"arp_interval array", `{"arp_interval": [50]}`, "arp_interval"},
		{"arp_missed_max 0", `{"arp_missed_max": 0}`, "arp_missed_max"},
		{"arp_missed_max 256", `{"arp_missed_max": "256"}`, "arp_missed_max"},
		{"num_grat_arp 256", `{"num_grat_arp": 256}`, "num_grat_arp"},
		{"all_slaves_active 2", `{"all_slaves_active": 2}`, "all_slaves_active"},
		{"miimon -1", `{"miimon": "-1"}`, "miimon"},
		{"miimon huge", `{"miimon": 99999999999999999999}`, "miimon"},
		{"updelay -5", `{"updelay": -5}`, "updelay"},
		{"17 targets", `{"arp_ip_target": ` + tooMany + `}`, "arp_ip_target"},
		{"duplicate target", `{"arp_ip_target": ["10.8.0.254", "10.8.0.254"]}`, "arp_ip_target"},
		{"v6 target", `{"arp_ip_target": "10.8.0.254,fe80::1"}`, "arp_ip_target"},
		{"multicast target", `{"arp_ip_target": "224.0.0.5"}`, "arp_ip_target"},
		{"target with prefix", `{"arp_ip_target": "10.8.0.254/24"}`, "arp_ip_target"},
		{"target in array as number", `{"arp_ip_target": [1]}`, "arp_ip_target"},
		{"target list in array", `{"arp_ip_target": ["10.8.0.254,10.8.0.1"]}`, "arp_ip_target"},
		{"target null", `{"arp_ip_target": null}`, "arp_ip_target"},
		{"primary path", `{"primary": "tap2/x"}`, "primary"},
		{"primary number", `{"primary": 2}`, "primary"},
		{"primary null", `{"primary": null}`, "primary"},
		{"primary too long", `{"primary": "tap0123456789abc"}`, "primary"},
		{"active_slave shell", `{"active_slave": "tap1;reboot"}`, "active_slave"},
	}
	checkBad(t, api.BondParams{Primary: testsupport.Ptr("tap1"), Mode: testsupport.Ptr(1)}, cases)
}
