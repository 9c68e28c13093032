package deploytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/nstest"
)

// testDebSystemd boots the throwaway root under a real systemd
// (systemd-nspawn --boot, its own network namespace) after testDebRoot is
// done with it, installs the package there with dpkg (its postinst starts
// the unit) and proves the unit as shipped, every sandboxing setting in
// force: a hub (multilink.service, a server from /etc/multilink/config.yaml)
// and a gateway (multilink-gw.service: the installed unit with another
// ExecStart and state dir, NetworkNamespacePath in a namespace joined to
// the hub's by two veth pairs, and a 10 s watchdog to see pings within the
// test) reach READY, the gateway's bond comes up through real OpenVPN
// tunnels (openvpn as nobody, in the units' cgroups) and carries pings both
// ways, the watchdog is fed, a restart of each adopts the same openvpn
// processes and links (KillMode=process, --keep-dataplane), systemctl stop
// leaves them forwarding, and multilink purge leaves no link and no
// openvpn. The container gets CAP_BPF and CAP_PERFMON and the bpf system
// call (nspawn drops them by default; a host's systemd keeps them) and
// /dev/net/tun.
func testDebSystemd(t *testing.T, d debs, b *bootstrap) {
	if b.skip != "" {
		requireTools(t, true, "debootstrap", "chroot", "systemd-nspawn", "nsenter") // skips, or fails under CI
		t.Fatalf("bootstrap not started: %s", b.skip)
	}
	requireTools(t, true, "systemd-nspawn", "nsenter")
	<-b.done
	if b.err != nil {
		t.Fatalf("debootstrap: %v", b.err)
	}
	start := time.Now()
	r := chrootDir{t: t, root: b.root}
	// testDebRoot's systemctl stub would hide the real one.
	for _, p := range []string{"/usr/local/sbin/systemctl", "/var/log/systemctl.calls"} {
		if err := os.Remove(r.path(p)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	r.apt("install", "systemd", "dbus", "openvpn", "iproute2", "iputils-ping")
	t.Logf("apt install systemd dbus openvpn iproute2 iputils-ping in the root: %s", time.Since(start).Round(time.Second))
	data, err := os.ReadFile(d.v2amd64)
	if err != nil {
		t.Fatal(err)
	}
	r.write("/root/multilink.deb", string(data), 0o644)
	r.write("/etc/hostname", "multilink-test\n", 0o644)

	step := time.Now()
	c := bootContainer(t, b.root)
	c.run("systemctl", "is-system-running", "--wait") // "degraded" fails it: the failed units are in the log
	t.Logf("boot under systemd-nspawn: %s", time.Since(step).Round(100*time.Millisecond))

	// The postinst enables and starts the unit: a daemon with nothing to do.
	c.run("dpkg", "-i", "/root/multilink.deb")
	c.waitState("multilink", "ok: 0 servers, 0 clients", 30*time.Second)

	// The gateway's namespace and its two underlays to the hub (the
	// container's own namespace), as package topology builds them.
	c.run("ip", "netns", "add", "gw")
	c.run("ip", "-n", "gw", "link", "set", "lo", "up")
	for _, u := range []struct{ dev, hub, gw string }{{"u1", "192.0.2.1", "192.0.2.2"}, {"u2", "198.51.100.1", "198.51.100.2"}} {
		c.run("ip", "link", "add", u.dev, "type", "veth", "peer", "name", u.dev, "netns", "gw")
		c.run("ip", "addr", "add", u.hub+"/24", "dev", u.dev)
		c.run("ip", "link", "set", u.dev, "up")
		c.run("ip", "-n", "gw", "addr", "add", u.gw+"/24", "dev", u.dev)
		c.run("ip", "-n", "gw", "link", "set", u.dev, "up")
	}
	underlay := []string{"lo", "u1", "u2"}

	r.write("/etc/multilink/config.yaml", "server:\n  bridge_interface: br0\n  bridge_ip: 10.8.0.254\n  links: 2\n", 0o644)
	c.run("systemctl", "restart", "multilink")
	c.waitState("multilink", "ok: 1 server, 0 clients", 60*time.Second)
	if got := c.links(); !slices.Equal(got, []string{"br0", "lo", "tap1", "tap2", "u1", "u2"}) {
		t.Errorf("the hub's links: %v, want br0, tap1, tap2 beside lo, u1, u2", got)
	}

	pin := strings.TrimSpace(c.run("multilink", "fingerprint"))
	token := strings.TrimSpace(string(r.read("/var/lib/multilink/token")))
	r.write("/etc/multilink/gw.yaml", `client:
  server_api_url: https://192.0.2.1:3333
  server_api_pin: `+pin+`
  server_token: `+token+`
  bond:
    bond0:
      ip_address: 10.8.0.253
      slaves:
        - {hw_int: u1, ip_server: 192.0.2.1, netmask: 255.255.255.0}
        - {hw_int: u2, ip_server: 198.51.100.1, netmask: 255.255.255.0}
      bonding: {bonding_mode: "1", primary: tap1, arp_ip_target: 10.8.0.254, arp_interval: "100", fail_over_mac: "1", arp_validate: "5"}
`, 0o644)
	r.write("/etc/systemd/system/multilink-gw.service", gatewayUnit(t, string(r.read("/usr/lib/systemd/system/multilink.service"))), 0o644)
	c.run("systemctl", "daemon-reload")
	c.run("systemctl", "start", "multilink-gw")
	c.waitState("multilink-gw", "ok: 0 servers, 1 client", 60*time.Second)
	// 7: the eBPF bond is a veth pair, bond0 and its peer; the kernel's
	// bond (where the host has the bonding driver) is one link.
	if got := c.links("gw"); len(got) < 6 || len(got) > 7 || !slices.Contains(got, "bond0") || !slices.Contains(got, "tap1") || !slices.Contains(got, "tap2") {
		t.Errorf("the gateway's links: %v, want bond0 (and the eBPF bond's peer), tap1, tap2 beside lo, u1, u2", got)
	}
	journal := c.run("journalctl", "-b", "-u", "multilink-gw", "--no-pager", "-o", "cat")
	if i := strings.Index(journal, `msg="bond created"`); i < 0 {
		t.Errorf("the gateway logged no bond creation:\n%s", journal)
	} else {
		t.Logf("the gateway's bond: %s", firstLine(journal[i:]))
	}
	c.run("ip", "netns", "exec", "gw", "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.8.0.254")
	c.run("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.8.0.253")

	// Every openvpn: nobody, in its daemon's unit.
	ovpn := c.openvpns()
	if len(ovpn) != 4 {
		t.Errorf("%d openvpn processes, want 4 (2 the hub's, 2 the gateway's): %v", len(ovpn), ovpn)
	}
	for pid, p := range ovpn {
		if p.uid != "65534" || (!strings.HasSuffix(p.cgroup, "/multilink.service") && !strings.HasSuffix(p.cgroup, "/multilink-gw.service")) {
			t.Errorf("openvpn %s: uid %s, cgroup %s; want nobody (65534) in multilink.service or multilink-gw.service", pid, p.uid, p.cgroup)
		}
	}

	// The watchdog: the gateway pings every 5 s; two pings are seen.
	first := c.show("multilink-gw", "WatchdogTimestampMonotonic")
	seen := 0
	for deadline := time.Now().Add(20 * time.Second); seen < 2 && time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if now := c.show("multilink-gw", "WatchdogTimestampMonotonic"); now != first {
			seen++
			first = now
		}
	}
	if seen < 2 {
		t.Errorf("the gateway's watchdog timestamp moved %d times in 20 s, want 2 (WatchdogSec=10s)", seen)
	}
	for _, u := range []string{"multilink", "multilink-gw"} {
		if n := c.show(u, "NRestarts"); n != "0" {
			t.Errorf("%s restarted %s times", u, n)
		}
		var warned []string
		for _, l := range strings.Split(c.run("journalctl", "-b", "-u", u, "--no-pager", "-o", "cat"), "\n") {
			if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
				warned = append(warned, l)
			}
		}
		if len(warned) > 0 {
			t.Errorf("%s warned under the unit's sandbox:\n%s", u, strings.Join(warned, "\n"))
		}
	}

	// A restart of each (KillMode=process, --keep-dataplane): the openvpn
	// processes and interfaces are adopted as they are, and carry pings.
	before, links := c.openvpns(), c.links("gw")
	c.run("systemctl", "restart", "multilink-gw")
	c.waitState("multilink-gw", "ok: 0 servers, 1 client", 60*time.Second)
	c.run("systemctl", "restart", "multilink")
	c.waitState("multilink", "ok: 1 server, 0 clients", 60*time.Second)
	if after := c.openvpns(); !slices.Equal(slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before))) {
		t.Errorf("openvpn processes %v before the restarts, %v after: want them adopted", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
		for _, u := range []string{"multilink", "multilink-gw"} {
			for _, l := range strings.Split(c.run("journalctl", "-b", "-u", u, "--no-pager", "-o", "cat"), "\n") {
				if strings.Contains(l, "adopt") || strings.Contains(l, "earlier run") {
					t.Logf("%s: %s", u, l)
				}
			}
		}
	}
	if got := c.links("gw"); !slices.Equal(got, links) {
		t.Errorf("the gateway's links %v before the restart, %v after", links, got)
	}
	c.run("ip", "netns", "exec", "gw", "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.8.0.254")

	// systemctl stop leaves the data plane running; multilink purge removes it.
	step = time.Now()
	c.run("systemctl", "stop", "multilink-gw", "multilink")
	t.Logf("systemctl stop of both: %s", time.Since(step).Round(100*time.Millisecond))
	for _, u := range []string{"multilink", "multilink-gw"} {
		if s := c.show(u, "ActiveState"); s != "inactive" {
			t.Errorf("%s is %s after systemctl stop, want inactive", u, s)
		}
	}
	if left := c.openvpns(); len(left) != 4 {
		t.Errorf("openvpn after stop: %v, want the 4 kept", left)
	}
	c.run("ip", "netns", "exec", "gw", "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.8.0.254")
	c.run("ip", "netns", "exec", "gw", "multilink", "purge", "--state-dir", "/var/lib/multilink-gw")
	c.run("multilink", "purge", "--state-dir", "/var/lib/multilink")
	if got := c.links(); !slices.Equal(got, underlay) {
		t.Errorf("the hub's links after purge: %v, want %v", got, underlay)
	}
	if got := c.links("gw"); !slices.Equal(got, underlay) {
		t.Errorf("the gateway's links after purge: %v, want %v", got, underlay)
	}
	if left := c.openvpns(); len(left) > 0 {
		t.Errorf("openvpn left after purge: %v", left)
	}
	t.Logf("the whole systemd test: %s", time.Since(start).Round(time.Second))
}

// gatewayUnit is the installed unit as a second instance: its own
// ExecStart (another config, state dir and API address) and state dir, in
// the gw namespace, with a watchdog the test sees fed within seconds.
// Every sandboxing setting stays as shipped.
func gatewayUnit(t *testing.T, unit string) string {
	t.Helper()
	repl := map[string]string{
		"ExecStart=":      "ExecStart=/usr/bin/multilink daemon --keep-dataplane --config /etc/multilink/gw.yaml --state-dir /var/lib/multilink-gw --listen 127.0.0.1:3333",
		"StateDirectory=": "StateDirectory=multilink-gw",
		"WatchdogSec=":    "WatchdogSec=10s",
		"[Service]":       "[Service]\nNetworkNamespacePath=/run/netns/gw",
	}
	lines := strings.Split(unit, "\n")
	for prefix, with := range repl {
		n := 0
		for i, l := range lines {
			if strings.HasPrefix(l, prefix) {
				lines[i] = with
				n++
			}
		}
		if n != 1 {
			t.Fatalf("the unit has %d lines starting %q, want 1", n, prefix)
		}
	}
	return strings.Join(lines, "\n")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// machine is a booted systemd-nspawn container; commands run in it
// through nsenter (all its namespaces, root's view of its files).
type machine struct {
	t      *testing.T
	leader int // its systemd, PID 1 inside
}

// bootContainer boots root with systemd-nspawn (not registered with
// machined, which does not run here, and in the test's own cgroup) until
// its systemd answers; the cleanup powers it off (SIGTERM to nspawn), or
// kills it after 30 s.
func bootContainer(t *testing.T, root string) *machine {
	t.Helper()
	name := fmt.Sprintf("multilink-test-%06x", rand.Uint32()&0xffffff)
	var console bytes.Buffer
	cmd := exec.Command("systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--console=read-only",
		"--boot", "--private-network", "--machine="+name, "--directory="+root,
		"--capability=CAP_BPF,CAP_PERFMON", "--system-call-filter=bpf", "--bind=/dev/net/tun",
		// A host's systemd mounts a bpffs at /sys/fs/bpf at boot, where the
		// daemon pins the data plane's eBPF objects; a container's cannot
		// (its /sys is read-only): it gets a private one from the test.
		"--bind="+nstest.BPFFS(t)+":/sys/fs/bpf")
	// The container's systemd on cgroup v2 (on a hybrid host too): there
	// its DevicePolicy works (a BPF device program), on v1 inside nspawn
	// it is not applied at all. No-op on a v2-only host.
	cmd.Env = append(os.Environ(), "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1")
	cmd.Stdout, cmd.Stderr = &console, &console
	cg := newCgroup(t, name)
	defer cg.Close()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	if err := cmd.Start(); err != nil {
		t.Fatalf("systemd-nspawn: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // a clean poweroff
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			t.Errorf("the container did not power off within 30 s of SIGTERM: killed")
			_ = cmd.Process.Kill()
			<-exited
		}
		// nspawn leaves this (empty) dir behind: /run is no tmpfs here.
		_ = os.Remove(filepath.Join("/run/systemd/nspawn/propagate", name))
		removeCgroup(t, cg.Name())
		if t.Failed() {
			t.Logf("the container's console:\n%s", tail(console.Bytes()))
		}
	})
	c := &machine{t: t}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("systemd-nspawn ended: %v\n%s", err, tail(console.Bytes()))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no systemd in the container within 60 s\n%s", tail(console.Bytes()))
		}
		if c.leader == 0 {
			c.leader = childSystemd(cmd.Process.Pid)
			continue
		}
		if _, err := c.try(5*time.Second, "systemctl", "is-system-running"); err == nil || !strings.Contains(err.Error(), "connect") {
			return c // it answers, maybe still starting
		}
	}
}

// newCgroup makes an empty cgroup v2 for the container beside the test's
// own (with --keep-unit nspawn makes its "payload" and "supervisor" below
// its own cgroup, and leaves them): opened for clone3 into it.
func newCgroup(t *testing.T, name string) *os.File {
	t.Helper()
	mount := "/sys/fs/cgroup"
	if _, err := os.Stat(mount + "/cgroup.controllers"); err != nil {
		mount = "/sys/fs/cgroup/unified" // a hybrid host
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var own string
	for _, l := range strings.Split(string(self), "\n") {
		if v, ok := strings.CutPrefix(l, "0::"); ok {
			own = v
		}
	}
	if _, err := os.Stat(mount + "/cgroup.controllers"); err != nil || own == "" {
		t.Fatalf("no cgroup v2 hierarchy (%s, /proc/self/cgroup %q): systemd-nspawn needs one here", mount, self)
	}
	dir := filepath.Join(mount, own, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("make the container's cgroup: %v", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// removeCgroup removes dir and the cgroups below it, deepest first, once
// their processes are gone (bounded).
func removeCgroup(t *testing.T, dir string) {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	slices.Reverse(dirs)
	for _, d := range dirs {
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if err = os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("remove the container's cgroup %s: %v", d, err)
		}
	}
}

// childSystemd is the PID of pid's child named systemd, 0 if none yet.
func childSystemd(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(string(data)) {
		comm, _ := os.ReadFile("/proc/" + f + "/comm")
		if strings.TrimSpace(string(comm)) == "systemd" {
			n, _ := strconv.Atoi(f)
			return n
		}
	}
	return 0
}

// try runs argv in the container, bounded by within.
func (c *machine) try(within time.Duration, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--target", strconv.Itoa(c.leader), "--all", "--"}, argv...)...)
	cmd.Env = []string{"PATH=" + chrootPath, "LC_ALL=C", "SYSTEMD_PAGER=", "DEBIAN_FRONTEND=noninteractive"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// run is try within 60 s; an error fails the test.
func (c *machine) run(argv ...string) string {
	c.t.Helper()
	out, err := c.try(60*time.Second, argv...)
	if err != nil {
		c.t.Fatalf("in the container: %v", err)
	}
	return out
}

// show is one property of a unit.
func (c *machine) show(unit, prop string) string {
	c.t.Helper()
	return strings.TrimSpace(c.run("systemctl", "show", "--value", "-p", prop, unit))
}

// waitState waits until unit is active/running with status, bounded.
func (c *machine) waitState(unit, status string, within time.Duration) {
	c.t.Helper()
	var got string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		got = c.run("systemctl", "show", "-p", "ActiveState,SubState,StatusText", unit)
		if strings.Contains(got, "ActiveState=active\n") && strings.Contains(got, "SubState=running\n") && strings.Contains(got, "StatusText="+status+"\n") {
			return
		}
	}
	log, _ := c.try(10*time.Second, "journalctl", "-b", "-u", unit, "--no-pager", "-o", "cat", "-n", "40")
	c.t.Fatalf("%s not active/running with status %q within %s:\n%s\n%s", unit, status, within, got, log)
}

// links are the names of the links in the container's namespace, or in
// its named namespace ns, sorted.
func (c *machine) links(ns ...string) []string {
	c.t.Helper()
	argv := []string{"ip", "-o", "link", "show"}
	if len(ns) > 0 {
		argv = []string{"ip", "-n", ns[0], "-o", "link", "show"}
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(c.run(argv...)), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// ovpn is an openvpn process in the container.
type ovpn struct{ uid, cgroup string }

// openvpns are the container's openvpn processes by PID (its PIDs).
func (c *machine) openvpns() map[string]ovpn {
	c.t.Helper()
	// One shell line in the container: its /proc is its PID namespace's.
	out := c.run("sh", "-c", `for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = openvpn ] || continue; `+
		`echo "${p#/proc/} $(awk '/^Uid:/ {print $2}' $p/status) $(sed -n 's/^0:://p' $p/cgroup)"; done`)
	got := map[string]ovpn{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			got[f[0]] = ovpn{uid: f[1], cgroup: f[2]}
		}
	}
	return got
}
