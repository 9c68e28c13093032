package api_test

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/testsupport"
)

// TestServerCheck: Check refuses servers built in code that the decoder
// could never produce.
func TestServerCheck(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(s *api.Server)
		field string
	}{
		{"zero", func(s *api.Server) { *s = api.Server{} }, "bridge_interface"},
		{"no address", func(s *api.Server) { s.BridgeIP = netip.Prefix{} }, "bridge_ip"},
		{"v6 address", func(s *api.Server) { s.BridgeIP = netip.MustParsePrefix("fd00::1/64") }, "bridge_ip"},
		{"network address", func(s *api.Server) { s.BridgeIP = netip.MustParsePrefix("10.8.0.0/24") }, "bridge_ip"},
		{"/32", func(s *api.Server) { s.BridgeIP = netip.MustParsePrefix("10.8.0.254/32") }, "bridge_ip"},
		{"no links", func(s *api.Server) { s.Links = 0 }, "links"},
		{"17 links", func(s *api.Server) { s.Links = 17 }, "links"},
		{"port_base 0", func(s *api.Server) { s.PortBase = 0 }, "port_base"},
		{"port_base negative", func(s *api.Server) { s.PortBase = -5 }, "port_base"},
		{"port_base 70000", func(s *api.Server) { s.PortBase, s.Links = 70000, 1 }, "port_base"},
		{"no tap_prefix", func(s *api.Server) { s.TapPrefix = "" }, "tap_prefix"},
		{"bad bridge", func(s *api.Server) { s.BridgeInterface = "br 0" }, "bridge_interface"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testsupport.SpecServer(t)
			tc.edit(&s)
			testsupport.WantInvalid(t, s.Check(), tc.field)
		})
	}
}

func TestClientCheck(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *api.Client)
		field string
	}{
		{"zero", func(c *api.Client) { *c = api.Client{} }, "server_api_url"},
		{"no bond", func(c *api.Client) { c.Bond = "" }, "bond"},
		{"no address", func(c *api.Client) { c.Address = netip.Prefix{} }, "bond.bond0.ip_address"},
		{"no slaves", func(c *api.Client) { c.Slaves = nil }, "bond.bond0.slaves"},
		{"9 slaves", func(c *api.Client) {
			for len(c.Slaves) < 9 {
				c.Slaves = append(c.Slaves, api.Slave{HWInt: "eth" + strconv.Itoa(len(c.Slaves)), IPServer: netip.MustParseAddr("192.0.2.1"), Netmask: 24})
			}
		}, "bond.bond0.slaves"},
		{"slave without hw_int", func(c *api.Client) { c.Slaves[1].HWInt = "" }, "bond.bond0.slaves[1].hw_int"},
		{"slave without ip_server", func(c *api.Client) { c.Slaves[1].IPServer = netip.Addr{} }, "bond.bond0.slaves[1].ip_server"},
		{"slave netmask 0", func(c *api.Client) { c.Slaves[0].Netmask = 0 }, "bond.bond0.slaves[0].netmask"},
		{"slave netmask 33", func(c *api.Client) { c.Slaves[0].Netmask = 33 }, "bond.bond0.slaves[0].netmask"},
		{"slave gateway loopback", func(c *api.Client) { c.Slaves[0].Gateway = netip.MustParseAddr("127.0.0.1") }, "bond.bond0.slaves[0].gateway"},
		{"no tap_prefix", func(c *api.Client) { c.TapPrefix = "" }, "bond.bond0.tap_prefix"},
		{"primary nowhere", func(c *api.Client) { c.Bonding.Primary = testsupport.Ptr("tap9") }, "bond.bond0.bonding.primary"},
		{"mode out of range", func(c *api.Client) { c.Bonding.Mode = testsupport.Ptr(12) }, "bond.bond0.bonding.bonding_mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testsupport.SpecClient(t)
			tc.edit(&c)
			testsupport.WantInvalid(t, c.Check(), tc.field)
		})
	}
}

func TestCheckIfName(t *testing.T) {
	for _, ok := range []string{"eth0", "wlp2s0", "wwan0", "eth0.100", "br-lan", "tap_1", "a", "abcdefghijklmno"} {
		if err := api.CheckIfName("x", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, n := range badNames {
		t.Run(n.name, func(t *testing.T) { testsupport.WantInvalid(t, api.CheckIfName("x", n.value), "x") })
	}
}
