package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/multilink/multilink/internal/nstest"
)

// Lab addresses: documentation prefixes for the underlays, 10.8.0.0/24 for
// the tunnels, all inside namespaces the test made.
const (
	hubU1, gwU1 = "192.0.2.1", "192.0.2.2"
	hubU2, gwU2 = "198.51.100.1", "198.51.100.2"
	apiPort     = "3333"
	testToken   = "e2e-test-token-0123456789abcdef"
)

// topology is the spec's two-host setup: a hub and a gateway joined by two
// underlays (two "wireless links").
type topology struct {
	hub, gw *nstest.NS
}

func newTopology(t testing.TB) *topology {
	t.Helper()
	nstest.RequireAdmin(t)
	nstest.RequireCommand(t, "openvpn")
	nstest.RequireCommand(t, "ip")
	tp := &topology{hub: nstest.New(t, "mlhub"), gw: nstest.New(t, "mlgw")}
	nstest.Veth(t, tp.gw, "u1", gwU1+"/24", tp.hub, "u1", hubU1+"/24")
	nstest.Veth(t, tp.gw, "u2", gwU2+"/24", tp.hub, "u2", hubU2+"/24")
	return tp
}

// specServerBody is the spec's example server start body, verbatim.
func specServerBody(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("../api/testdata/spec_server_start.json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// specClientBody is the spec's example client start body with its
// addresses adapted to the lab: the hub's API and its two underlay
// addresses, the gateway's two underlay interfaces.
func specClientBody(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("../api/testdata/spec_client_start.json")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer(
		"http://158.42.89.111:3333", "http://"+hubU1+":"+apiPort,
		`"hw_int": "eth0"`, `"hw_int": "u1"`,
		`"hw_int": "wlan0"`, `"hw_int": "u2"`,
		"158.42.89.111", hubU1,
		"192.168.150.100", hubU2,
	).Replace(string(data))
	return []byte(s)
}

// links lists the names of ns's links.
func links(t testing.TB, ns *nstest.NS) []string {
	t.Helper()
	ls, err := ns.Handle.LinkList()
	if err != nil {
		t.Fatalf("list links in %s: %v", ns.Name, err)
	}
	var out []string
	for _, l := range ls {
		out = append(out, l.Attrs().Name)
	}
	return out
}

// masterOf returns the name of link's master in ns, "" if none.
func masterOf(t testing.TB, ns *nstest.NS, link string) string {
	t.Helper()
	l, err := ns.Handle.LinkByName(link)
	if err != nil {
		t.Fatalf("find %s in %s: %v", link, ns.Name, err)
	}
	if l.Attrs().MasterIndex == 0 {
		return ""
	}
	m, err := ns.Handle.LinkByIndex(l.Attrs().MasterIndex)
	if err != nil {
		t.Fatalf("find master of %s: %v", link, err)
	}
	return m.Attrs().Name
}

// hasBonding reports whether ns's kernel can make a bond.
func hasBonding(ns *nstest.NS) bool {
	b := netlink.NewLinkBond(netlink.LinkAttrs{Name: "mlprobe0"})
	if err := ns.Handle.LinkAdd(b); err != nil {
		return false
	}
	_ = ns.Handle.LinkDel(b)
	return true
}

// openvpnPids lists the openvpn processes running in ns.
func openvpnPids(t testing.TB, ns *nstest.NS) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "pids", ns.Name).Output()
	if err != nil {
		t.Fatalf("ip netns pids %s: %v", ns.Name, err)
	}
	var pids []string
	for _, p := range strings.Fields(string(out)) {
		comm, err := os.ReadFile("/proc/" + p + "/comm")
		if err == nil && strings.TrimSpace(string(comm)) == "openvpn" {
			pids = append(pids, p)
		}
	}
	return pids
}
