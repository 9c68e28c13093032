package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/multilink/multilink/internal/impairment"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// testToken is the daemons' API token in these tests.
const testToken = "e2e-test-token-0123456789abcdef"

// testbed is the spec's two-host setup, built by package topology (the
// demo's world): a hub and a gateway joined by two underlays (two
// "wireless links"), with nstest's helpers on both namespaces.
type testbed struct {
	hub, gw *nstest.NS
	links   [2]*impairment.Link // the emulated underlays (newEmulatedTopology only)
}

// newTopology joins hub and gateway with veth pairs, for the kernel's
// impairments (link down, netem).
func newTopology(t testing.TB) *testbed { return buildTestbed(t, topology.VethPairs) }

// newEmulatedTopology runs the underlays through the userspace emulator
// (package impairment, through a third namespace): cut, delay and loss
// without netem, on any kernel.
func newEmulatedTopology(t testing.TB) *testbed { return buildTestbed(t, topology.Emulated) }

func buildTestbed(t testing.TB, kind topology.Kind) *testbed {
	t.Helper()
	nstest.RequireAdmin(t)
	nstest.RequireCommand(t, "openvpn")
	nstest.RequireCommand(t, "ip")
	tp, err := topology.New(context.Background(), topology.Options{Prefix: "mle2e", Kind: kind})
	if err != nil {
		t.Fatalf("build the topology: %v", err)
	}
	t.Cleanup(func() {
		if err := tp.Close(); err != nil {
			t.Errorf("remove the topology: %v", err)
		}
	})
	// Adopted after the Close above was registered, so their cleanup (the
	// end of what still runs in the namespaces) comes first.
	return &testbed{
		hub:   nstest.Adopt(t, tp.Hub.Name, tp.Hub.Handle),
		gw:    nstest.Adopt(t, tp.Gw.Name, tp.Gw.Handle),
		links: tp.Links,
	}
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

// staticServerBody is the spec's server body asking for the spec's
// static-key tunnels explicitly (a new start's default is TLS).
func staticServerBody(t testing.TB) []byte {
	t.Helper()
	return bytes.Replace(specServerBody(t), []byte("{"), []byte(`{"tunnel_mode": "static", `), 1)
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
		"http://158.42.89.111:3333", "http://"+topology.HubU1+":"+topology.APIPort,
		`"hw_int": "eth0"`, `"hw_int": "u1"`,
		`"hw_int": "wlan0"`, `"hw_int": "u2"`,
		"158.42.89.111", topology.HubU1,
		"192.168.150.100", topology.HubU2,
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
