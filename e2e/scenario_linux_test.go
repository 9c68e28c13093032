package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// bondView is the part of GET /v1/client/bond_params the scenario reads.
type bondView struct {
	Driver string         `json:"driver"`
	Active string         `json:"active_slave"`
	Slaves []string       `json:"slaves"`
	Params map[string]any `json:"params"`
}

func (d *daemon) bond(t testing.TB) bondView {
	t.Helper()
	var b bondView
	if code := d.call(http.MethodGet, "/v1/client/bond_params/bond0", nil, &b); code != http.StatusOK {
		t.Fatalf("bond_params: %d", code)
	}
	return b
}

// waitActive waits (bounded) until bond0's active slave is want.
func waitActive(t testing.TB, gw *daemon, want string, within time.Duration) {
	t.Helper()
	var last bondView
	if waitFor(t, within, 200*time.Millisecond, func() bool { last = gw.bond(t); return last.Active == want }) {
		return
	}
	t.Fatalf("active slave is %q after %s, want %s (bond %+v)", last.Active, within, want, last)
}

// pingOK pings addr from ns until one ping answers (bounded).
func pingOK(t testing.TB, ns *nstest.NS, addr string) {
	t.Helper()
	var out []byte
	for i := 0; i < 10; i++ {
		var err error
		out, err = ns.Command(t.Context(), "ping", "-c", "1", "-W", "1", addr).CombinedOutput()
		if err == nil {
			return
		}
	}
	t.Fatalf("ping %s from %s: no answer in 10 tries\n%s", addr, ns.Name, out)
}

// drivers are the bond drivers the scenario runs with: the kernel's
// bonding driver (the kernel lab) and the eBPF data path (everywhere).
var drivers = []string{"kernel", "ebpf"}

// splitDrivers are the bond drivers of a long case whose eBPF half does
// not depend on the kernel version (chaos, rotation): both on the host
// (where the kernel bond is skipped without the bonding driver), the
// kernel bond alone in the lab. The lab's time (a VM per kernel, 20
// minutes each at most) goes to the kernel bond, which the host cannot
// run; the eBPF programs' kernel differences have cases of their own
// there.
func splitDrivers() []string {
	if nstest.InLab() {
		return []string{"kernel"}
	}
	return drivers
}

// requireDriver skips (fails in the lab) when the kernel cannot run driver.
func requireDriver(t testing.TB, tp *testbed, driver string) {
	t.Helper()
	if driver == "kernel" {
		nstest.Require(t, hasBonding(tp.gw), "kernel has no bonding driver")
	}
}

// scenario brings up the hub and the gateway (bonds by driver, extra
// daemon flags) through their APIs. clientBody has the spec's http://
// server_api_url: it is started in the default setup, https:// with the
// hub's pin (the hub answers no plain http from the gateway).
func scenario(t testing.TB, tp *testbed, clientBody []byte, driver string, extra ...string) (hub, gw *daemon) {
	t.Helper()
	return scenarioWith(t, tp, specServerBody(t), clientBody, driver, extra...)
}

// scenarioWith is scenario with the hub's server started with serverBody
// (the spec's: TLS tunnels; staticServerBody: the spec's static key).
func scenarioWith(t testing.TB, tp *testbed, serverBody, clientBody []byte, driver string, extra ...string) (hub, gw *daemon) {
	t.Helper()
	return scenarioArgs(t, tp, serverBody, clientBody, driver, nil, extra...)
}

// scenarioArgs is scenarioWith with flags for the hub's daemon too.
func scenarioArgs(t testing.TB, tp *testbed, serverBody, clientBody []byte, driver string, hubExtra []string, extra ...string) (hub, gw *daemon) {
	t.Helper()
	return scenarioBin(t, tp, buildBinary(t), serverBody, clientBody, driver, hubExtra, extra...)
}

// scenarioBin is scenarioArgs with the gateway's daemon run from the
// multilink binary gwBin (a baseline build beside the one under test).
func scenarioBin(t testing.TB, tp *testbed, gwBin string, serverBody, clientBody []byte, driver string, hubExtra []string, extra ...string) (hub, gw *daemon) {
	t.Helper()
	requireDriver(t, tp, driver)
	hub = startDaemon(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken, hubExtra...)
	args := append([]string{"--bond-driver", driver}, extra...)
	if _, bench := t.(*testing.B); nstest.InLab() && !bench { // benchmarks measure the defaults
		args = append(args, "--config", emulatorPolicy(t))
	}
	gw = launchBinary(t, gwBin, tp.gw, "127.0.0.1:"+topology.APIPort, testToken, filepath.Join(t.TempDir(), "state"), nil, args)
	if code := hub.call(http.MethodPost, "/v1/server/start", serverBody, nil); code != http.StatusOK {
		t.Fatalf("server start: %d", code)
	}
	if code := gw.call(http.MethodPost, "/v1/client/start", pinned(t, hub, clientBody), nil); code != http.StatusOK {
		t.Fatalf("client start with the spec's body (adapted): %d", code)
	}
	if got := gw.bond(t).Driver; got != driver {
		t.Fatalf("bond driver %q, want %q", got, driver)
	}
	waitActive(t, gw, "tap1", 30*time.Second)
	waitSettled(t, gw)
	pingOK(t, tp.gw, topology.HubTunnel)
	pingOK(t, tp.hub, topology.GwTunnel)
	return hub, gw
}

// emulatorPolicy is a config file with a dead-time floor of 200 ms. The
// kernel lab emulates its CPUs (QEMU TCG): the whole VM, OpenVPN and the
// kernel included, stalls for 60-100 ms at times, which the default 60 ms
// floor takes for dead links. These tests judge behaviour, not timings;
// the benchmarks run with the defaults.
func emulatorPolicy(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte("policy: {dead_floor_ms: 200}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitSettled waits (bounded) until the failover engine has both links up,
// tap1 active, for 2 s on end: tests act on a steady bond. (Under QEMU's
// emulation a fresh bond may see early loss and move before it settles.)
// With --no-failover there is no engine: nothing to wait for.
func waitSettled(t testing.TB, gw *daemon) {
	t.Helper()
	var since time.Time
	settled := waitFor(t, 60*time.Second, 100*time.Millisecond, func() bool {
		var st struct {
			Active string `json:"active_link"`
			Links  []struct {
				State string `json:"state"`
			} `json:"links"`
		}
		code, data, err := gw.Do(context.Background(), http.MethodGet, "/v1/client/policy/bond0", nil, false)
		if err == nil && code == http.StatusNotFound {
			return true // --no-failover
		}
		steady := err == nil && code == http.StatusOK && json.Unmarshal(data, &st) == nil && st.Active == "tap1" && len(st.Links) == 2
		for _, l := range st.Links {
			steady = steady && l.State == "up"
		}
		switch {
		case !steady:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= 2*time.Second:
			return true
		}
		return false
	})
	if !settled {
		t.Fatalf("the bond did not settle (both links up, tap1 active, for 2 s) within 60 s")
	}
}

// cutAndRestore cuts the primary underlay with cut, checks traffic moves to
// tap2 in both directions, restores it and checks traffic returns to tap1.
func cutAndRestore(t testing.TB, tp *testbed, gw *daemon, what string, cut, restore func()) {
	t.Helper()
	cut()
	waitActive(t, gw, "tap2", 30*time.Second)
	pingOK(t, tp.gw, topology.HubTunnel)
	pingOK(t, tp.hub, topology.GwTunnel)
	restore()
	waitActive(t, gw, "tap1", 30*time.Second)
	pingOK(t, tp.gw, topology.HubTunnel)
	pingOK(t, tp.hub, topology.GwTunnel)
	t.Logf("%s: failed over to tap2 and back to tap1, pings both ways", what)
}

func setLink(t testing.TB, ns *nstest.NS, name string, up bool) {
	t.Helper()
	l, err := ns.Handle.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if up {
		err = ns.Handle.LinkSetUp(l)
	} else {
		err = ns.Handle.LinkSetDown(l)
	}
	if err != nil {
		t.Fatalf("set %s up=%t: %v", name, up, err)
	}
}

// TestClientScenario is the spec's scenario end to end, with each bond
// driver, TLS tunnels (the default), and with the kernel's bond (the
// spec's) also in the spec's static-key mode: start, ping both ways, cut
// the primary (link down, then netem 100% loss), fail over, restore, fail
// back, change bond parameters with the spec's PUT example,
// tap_down/tap_up, stop, nothing left.
func TestClientScenario(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) { clientScenario(t, driver, specServerBody(t)) })
	}
	t.Run("kernel-static", func(t *testing.T) {
		// Static keys change OpenVPN's setup, not what the kernel does.
		nstest.OneLabKernel(t)
		clientScenario(t, "kernel", staticServerBody(t))
	})
}

func clientScenario(t *testing.T, driver string, serverBody []byte) {
	tp := newTopology(t)
	hub, gw := scenarioWith(t, tp, serverBody, specClientBody(t), driver)

	cutAndRestore(t, tp, gw, "hub-side link down",
		func() { setLink(t, tp.hub, "u1", false) },
		func() { setLink(t, tp.hub, "u1", true) })
	t.Run("netem 100% loss", func(t *testing.T) {
		// A subtest: on a host without netem only this step skips.
		out, err := tp.hub.Command(t.Context(), "tc", "qdisc", "add", "dev", "u1", "root", "netem", "loss", "100%").CombinedOutput()
		nstest.Require(t, err == nil, "no netem: %v %s", err, out)
		cutAndRestore(t, tp, gw, "netem 100% loss",
			func() {},
			func() { tp.hub.Run(t, "tc", "qdisc", "del", "dev", "u1", "root") })
	})

	// The spec's PUT example takes effect.
	put := []byte(`{"primary": "tap2", "arp_interval": "50"}`)
	if code := gw.call(http.MethodPut, "/v1/client/bond_params/bond0", put, nil); code != http.StatusOK {
		t.Fatalf("PUT bond_params: %d", code)
	}
	b := gw.bond(t)
	if b.Params["primary"] != "tap2" || fmt.Sprint(b.Params["arp_interval"]) != "50" {
		t.Errorf("after PUT: params %v", b.Params)
	}
	if driver == "kernel" {
		sysfs := tp.gw.Run(t, "cat", "/sys/class/net/bond0/bonding/arp_interval", "/sys/class/net/bond0/bonding/primary")
		if f := strings.Fields(sysfs); len(f) != 2 || f[0] != "50" || f[1] != "tap2" {
			t.Errorf("kernel says arp_interval/primary %q, want 50 tap2", sysfs)
		}
	}
	waitActive(t, gw, "tap2", 10*time.Second)

	// tap_down on the active TAP moves traffic; tap_up brings it back.
	if code := gw.call(http.MethodPost, "/v1/tap_down/tap2", nil, nil); code != http.StatusOK {
		t.Fatalf("tap_down: %d", code)
	}
	waitActive(t, gw, "tap1", 30*time.Second)
	pingOK(t, tp.gw, topology.HubTunnel)
	if code := gw.call(http.MethodPost, "/v1/tap_up/tap2", nil, nil); code != http.StatusOK {
		t.Fatalf("tap_up: %d", code)
	}
	waitActive(t, gw, "tap2", 30*time.Second)
	pingOK(t, tp.gw, topology.HubTunnel)

	stopBoth(t, tp, hub, gw)
}

// TestSameHubAddress: both underlays reach the hub at one address (as a
// WiFi+5G gateway reaching one public hub IP does); each link still
// leaves by its own interface and fails over.
func TestSameHubAddress(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			tp := newTopology(t)
			const hubIP = "203.0.113.1"
			tp.hub.Run(t, "ip", "addr", "add", hubIP+"/32", "dev", "lo")
			tp.gw.Run(t, "ip", "route", "add", hubIP+"/32", "via", topology.HubU1) // for the API call only
			body := fmt.Sprintf(`{"server_api_url": "http://%s:%s", "bond": {"bond0": {
				"ip_address": "%s",
				"slaves": [
					{"hw_int": "u1", "ip_server": "%s", "netmask": "255.255.255.255", "gateway": "%s"},
					{"hw_int": "u2", "ip_server": "%s", "netmask": "255.255.255.255", "gateway": "%s"}],
				"bonding": {"bonding_mode": "1", "primary": "tap1", "arp_ip_target": "%s",
					"arp_interval": "100", "fail_over_mac": "1", "arp_validate": "5"}}}}`,
				hubIP, topology.APIPort, topology.GwTunnel, hubIP, topology.HubU1, hubIP, topology.HubU2, topology.HubTunnel)
			hub, gw := scenario(t, tp, []byte(body), driver)
			// With u1 cut, tap2 still carries traffic: its tunnel leaves by u2
			// although the main table routes the hub address via u1.
			cutAndRestore(t, tp, gw, "same hub address, link down",
				func() { setLink(t, tp.hub, "u1", false) },
				func() { setLink(t, tp.hub, "u1", true) })
			stopBoth(t, tp, hub, gw)
		})
	}
}

// stopBoth stops client and server through the API and checks that
// nothing of ours is left in either namespace.
func stopBoth(t testing.TB, tp *testbed, hub, gw *daemon) {
	t.Helper()
	if code := gw.call(http.MethodPost, "/v1/client/stop/bond0", nil, nil); code != http.StatusOK {
		t.Fatalf("client stop: %d", code)
	}
	if code := hub.call(http.MethodPost, "/v1/server/stop/br0", nil, nil); code != http.StatusOK {
		t.Fatalf("server stop: %d", code)
	}
	assertNothingLeft(t, tp.gw.Name, links(t, tp.gw), openvpnPids(t, tp.gw))
	assertNothingLeft(t, tp.hub.Name, links(t, tp.hub), openvpnPids(t, tp.hub))
	assertNoRules(t, tp.gw.Name)
	assertNoFiles(t, gw)
	assertNoFiles(t, hub)
	for _, table := range []string{"1296826368", "1296826369"} {
		out, _ := tp.gw.Command(t.Context(), "ip", "-4", "route", "show", "table", table).Output()
		if strings.TrimSpace(string(out)) != "" {
			t.Errorf("routes left in table %s: %s", table, out)
		}
	}
}
