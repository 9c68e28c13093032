package nstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/nsthread"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// LabEnv is set to 1 inside the kernel lab, where every feature must exist.
const LabEnv = "MULTILINK_LAB"

// InLab reports whether the tests run inside the kernel lab.
func InLab() bool { return os.Getenv(LabEnv) == "1" }

// HostOnly skips the test inside the kernel lab: what it proves does not
// depend on the kernel (API, TLS, files, claims), and the host's run of
// every CI covers it; the lab's time goes to what differs between kernels
// (bonding, netem, TC attachment, the eBPF programs).
func HostOnly(t testing.TB) {
	t.Helper()
	if InLab() {
		t.Skip("kernel-agnostic: runs on the host, not in the kernel lab")
	}
}

// LeadEnv is set to 1 in the lab run's first kernel.
const LeadEnv = "MULTILINK_LAB_LEAD"

// OneLabKernel skips the test in the lab but on the run's first kernel
// (6.1 in CI; whichever comes first when one is picked): a long case that
// proves the daemon's recovery (chaos), not a kernel feature, runs on one
// lab kernel and on the host at every CI; the kernel bond's slave handling
// it leans on is exercised on every kernel by the cases that stay.
func OneLabKernel(t testing.TB) {
	t.Helper()
	if InLab() && os.Getenv(LeadEnv) != "1" {
		t.Skip("runs on the lab's first kernel only: it proves the daemon's recovery, not a kernel feature")
	}
}

// Require skips the test when ok is false, or fails it inside the lab.
func Require(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if InLab() {
		t.Fatalf("kernel lab promises this, but: %s", msg)
	}
	t.Skipf("skipped: %s", msg)
}

// RequireAdmin requires CAP_NET_ADMIN and CAP_SYS_ADMIN (namespaces, netlink).
func RequireAdmin(t testing.TB) {
	t.Helper()
	Require(t, hasCap(unix.CAP_NET_ADMIN) && hasCap(unix.CAP_SYS_ADMIN),
		"needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root)")
}

// RequireCommand requires an executable on PATH.
func RequireCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Require(t, err == nil, "needs %s on PATH", name)
	return p
}

// RequireLink requires the kernel to create links of kind (e.g. "bond").
func RequireLink(t testing.TB, n *NS, l netlink.Link) {
	t.Helper()
	err := n.Handle.LinkAdd(l)
	if err == nil {
		_ = n.Handle.LinkDel(l)
	}
	Require(t, err == nil, "kernel cannot create a %s link: %v", l.Type(), err)
}

// KernelAtLeast reports whether the running kernel is major.minor or later.
func KernelAtLeast(t testing.TB, major, minor int) bool {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatalf("uname: %v", err)
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		t.Fatalf("kernel release %q: %v", unix.ByteSliceToString(u.Release[:]), err)
	}
	return ma > major || ma == major && mi >= minor
}

func hasCap(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(uint(c)%32)) != 0
}

// NS is a named network namespace used by one test.
type NS struct {
	Name   string
	Handle *netlink.Handle
	ns     netns.NsHandle
	owned  bool // made by New: closed and deleted when the test ends
}

// New makes a namespace named prefix-<random> with lo up, and removes it
// when the test ends.
func New(t testing.TB, prefix string) *NS {
	t.Helper()
	RequireAdmin(t)
	var b [3]byte
	_, _ = rand.Read(b[:])
	name := prefix + "-" + hex.EncodeToString(b[:])
	ns, err := nsthread.NewNamed(name)
	if err != nil {
		t.Fatalf("create netns %s: %v", name, err)
	}
	n := &NS{Name: name, ns: ns, owned: true}
	t.Cleanup(func() { n.close(t) })
	n.open(t)
	h := n.Handle
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatalf("lo in %s: %v", name, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatalf("lo up in %s: %v", name, err)
	}
	return n
}

// Adopt gives a test the helpers of NS on a namespace it did not make
// (package topology makes the end-to-end tests' ones): a netlink handle
// inside it and, when the test ends, the end of whatever still runs in it
// (a failed test's processes). The namespace stays open and named: its
// maker closes and deletes it, after this cleanup if the maker's cleanup
// was registered before Adopt.
func Adopt(t testing.TB, name string, ns netns.NsHandle) *NS {
	t.Helper()
	n := &NS{Name: name, ns: ns}
	t.Cleanup(func() { n.close(t) })
	n.open(t)
	return n
}

// open makes n's netlink handle.
func (n *NS) open(t testing.TB) {
	t.Helper()
	h, err := netlink.NewHandleAt(n.ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", n.Name, err)
	}
	n.Handle = h
}

func (n *NS) close(t testing.TB) {
	if n.Handle != nil {
		n.Handle.Close()
	}
	// Kill what still runs in the namespace (a failed test's processes).
	if out, err := exec.Command("ip", "netns", "pids", n.Name).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 && pid != os.Getpid() {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
	if !n.owned {
		return
	}
	n.ns.Close()
	if err := netns.DeleteNamed(n.Name); err != nil {
		t.Errorf("delete netns %s: %v", n.Name, err)
	}
}

// Fd returns the namespace's file descriptor, for netlink.NsFd.
func (n *NS) Fd() int { return int(n.ns) }

// Path is the namespace's bind mount, for tools that take a path.
func (n *NS) Path() string { return "/var/run/netns/" + n.Name }

// Do runs fn on an OS thread inside the namespace. Child processes that fn
// starts are born in the namespace.
func (n *NS) Do(fn func() error) error {
	if err := nsthread.In(n.ns, fn); err != nil {
		return fmt.Errorf("in netns %s: %w", n.Name, err)
	}
	return nil
}

// Command returns an exec.Cmd that runs name inside the namespace.
func (n *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Run runs a command in the namespace and fails the test on error.
func (n *NS) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := n.Command(context.Background(), name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), n.Name, err, out)
	}
	return string(out)
}

// Veth joins a and b with a veth pair (aName in a, bName in b), gives each
// end its address (CIDR, may be empty) and brings both up.
func Veth(t testing.TB, a *NS, aName, aAddr string, b *NS, bName, bAddr string) {
	t.Helper()
	v := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: aName},
		PeerName:      bName,
		PeerNamespace: netlink.NsFd(b.Fd()),
	}
	if err := a.Handle.LinkAdd(v); err != nil {
		t.Fatalf("add veth %s/%s: %v", aName, bName, err)
	}
	for _, end := range []struct {
		ns   *NS
		name string
		addr string
	}{{a, aName, aAddr}, {b, bName, bAddr}} {
		l, err := end.ns.Handle.LinkByName(end.name)
		if err != nil {
			t.Fatalf("find %s in %s: %v", end.name, end.ns.Name, err)
		}
		if end.addr != "" {
			ad, err := netlink.ParseAddr(end.addr)
			if err != nil {
				t.Fatalf("parse %s: %v", end.addr, err)
			}
			if err := end.ns.Handle.AddrAdd(l, ad); err != nil {
				t.Fatalf("address %s on %s: %v", end.addr, end.name, err)
			}
		}
		if err := end.ns.Handle.LinkSetUp(l); err != nil {
			t.Fatalf("up %s: %v", end.name, err)
		}
	}
}

// BPFFS mounts a private bpf filesystem on a fresh temporary directory and
// returns it; it is unmounted when the test ends (the pins in it go with
// it). Pins made there are visible to the test's child processes.
func BPFFS(t testing.TB) string {
	t.Helper()
	RequireAdmin(t)
	dir := t.TempDir()
	err := unix.Mount("bpf", dir, "bpf", 0, "mode=0700")
	Require(t, err == nil, "cannot mount a bpf filesystem: %v", err)
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount bpffs %s: %v", dir, err)
		}
	})
	return dir
}
