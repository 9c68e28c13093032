package deploytest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// debSuite is the Debian release of the throwaway root: this project's CI
// host's (bookworm), so the same mirror serves it.
const debSuite = "bookworm"

// systemctlStub stands in for systemctl in the throwaway root, where
// systemd does not run: it records each call, says every unit is enabled
// and succeeds, so that the scripts' paths under systemd are taken (with
// /run/systemd/system present) and their calls can be checked.
const systemctlStub = `#!/bin/sh
echo "$*" >> /var/log/systemctl.calls
case "$*" in *is-enabled*) echo enabled ;; esac
exit 0
`

// bootstrap is a debootstrap run in the background, started before the
// packages are built (it downloads while they compile).
type bootstrap struct {
	root  string
	done  chan struct{}
	err   error
	took  time.Duration
	skip  string // why it was not started
	where string // suite and mirror, for messages
}

// startBootstrap starts debootstrap --variant=minbase of debSuite from the
// mirror apt uses on this host into a temporary dir, unless root or the
// tools are missing (testDebRoot then skips, or fails under CI). The run
// is cancelled and waited for when the test ends.
func startBootstrap(t *testing.T) *bootstrap {
	t.Helper()
	b := &bootstrap{done: make(chan struct{})}
	for _, n := range []string{"debootstrap", "chroot"} {
		if _, err := exec.LookPath(n); err != nil {
			b.skip = "missing command " + n + " (make deps installs it)"
		}
	}
	if b.skip == "" && os.Geteuid() != 0 {
		b.skip = "needs root"
	}
	if b.skip != "" {
		close(b.done)
		return b
	}
	b.root = filepath.Join(t.TempDir(), "root")
	mirror := debMirror(t)
	b.where = debSuite + " from " + mirror
	cmd := exec.Command("debootstrap", "--variant=minbase", debSuite, b.root, mirror)
	start := time.Now()
	go func() {
		defer close(b.done)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("%w\n%s", err, tail(out))
		}
		b.took = time.Since(start)
	}()
	// Not cancelled: killed, debootstrap would leave /proc mounted in the
	// root. The test waits for it (a minute or so, also when -run leaves
	// the root test out), then checks that nothing is mounted there.
	t.Cleanup(func() { <-b.done; unmountUnder(t, b.root) }) // before TempDir's removal
	return b
}

// unmountUnder fails on, and detaches, any mount below dir.
func unmountUnder(t *testing.T, dir string) {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Error(err)
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			t.Errorf("%s is still mounted after debootstrap", f[1])
			if err := unix.Unmount(f[1], unix.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", f[1], err)
			}
		}
	}
}

// testDebRoot waits for the throwaway root (debootstrap --variant=minbase)
// and, chrooted into it, installs the v1 package with apt (which pulls
// openvpn), upgrades to v2, removes and purges, asserting files, modes,
// the enable link, the conffiles and the maintainer scripts' systemctl
// calls at each step.
func testDebRoot(t *testing.T, d debs, b *bootstrap) {
	if b.skip != "" {
		requireTools(t, true, "debootstrap", "chroot") // skips, or fails under CI
		t.Fatalf("bootstrap not started: %s", b.skip)
	}
	start := time.Now()
	<-b.done
	if b.err != nil {
		t.Fatalf("debootstrap --variant=minbase %s: %v", b.where, b.err)
	}
	t.Logf("debootstrap --variant=minbase %s: %s, of which the test waited %s", b.where, b.took.Round(time.Second), time.Since(start).Round(time.Second))
	root := b.root
	r := chrootDir{t: t, root: root}
	r.write("/usr/local/sbin/systemctl", systemctlStub, 0o755)
	if err := os.MkdirAll(r.path("/run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{d.v1amd64, d.v2amd64} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		r.write("/tmp/"+filepath.Base(p), string(data), 0o644)
	}
	const (
		unit   = "/usr/lib/systemd/system/multilink.service"
		wants  = "/etc/systemd/system/multi-user.target.wants/multilink.service"
		mask   = "/etc/systemd/system/multilink.service"
		config = "/etc/multilink/config.yaml"
		state  = "/var/lib/multilink"
	)

	step := time.Now()
	r.apt("install", "/tmp/"+filepath.Base(d.v1amd64))
	t.Logf("install v1 with apt: %s", time.Since(step).Round(time.Second))
	r.status("multilink", "install ok installed", "1.0.0-1")
	r.status("openvpn", "install ok installed", "")
	r.mode("/usr/bin/multilink", 0o755)
	r.mode(unit, 0o644)
	r.mode(config, 0o644)
	r.mode("/etc/default/multilink", 0o644)
	r.enabled(wants, unit)
	r.calls([]string{"daemon-reload", "start multilink.service"}, []string{"restart multilink.service", "stop multilink.service"})
	if out := r.run("multilink", "version"); !strings.Contains(out, "1.0.0") {
		t.Errorf("multilink version after installing v1: %q", out)
	}
	// The installed daemon accepts its installed config: an empty desired
	// state, so a fresh install starts a daemon with no bridge or bond.
	if out := r.run("multilink", "config", "check", config); !strings.Contains(out, "0 servers, 0 clients") {
		t.Errorf("multilink config check %s: %q", config, out)
	}

	// What a run leaves, and an administrator's edit of the config.
	if err := os.MkdirAll(r.path(state), 0o700); err != nil {
		t.Fatal(err)
	}
	r.write(state+"/state.json", `{"servers": []}`, 0o600)
	edited := string(r.read(config)) + "# edited by the administrator\n"
	r.write(config, edited, 0o644)

	step = time.Now()
	r.apt("install", "/tmp/"+filepath.Base(d.v2amd64))
	t.Logf("upgrade to v2 with apt: %s", time.Since(step).Round(time.Second))
	r.status("multilink", "install ok installed", "1.0.1-1")
	if out := r.run("multilink", "version"); !strings.Contains(out, "1.0.1") {
		t.Errorf("multilink version after the upgrade: %q", out)
	}
	if got := string(r.read(config)); got != edited {
		t.Errorf("the upgrade changed the edited conffile %s:\n%s", config, got)
	}
	r.enabled(wants, unit)
	r.exists(state+"/state.json", true)
	r.calls([]string{"daemon-reload", "restart multilink.service"}, []string{"stop multilink.service", "start multilink.service"})

	r.apt("remove", "multilink")
	r.status("multilink", "deinstall ok config-files", "1.0.1-1")
	r.exists("/usr/bin/multilink", false)
	r.exists(unit, false)
	r.exists(state+"/state.json", true)
	if got := string(r.read(config)); got != edited {
		t.Errorf("remove changed the conffile %s:\n%s", config, got)
	}
	r.link(mask, "/dev/null") // deb-systemd-helper masks a removed unit until purge
	r.calls([]string{"stop multilink.service", "daemon-reload"}, []string{"start multilink.service", "restart multilink.service"})

	r.apt("purge", "multilink")
	r.calls(nil, []string{"start multilink.service", "restart multilink.service"})
	r.status("multilink", "", "")
	for _, p := range []string{config, "/etc/multilink", "/etc/default/multilink", state, wants, mask} {
		r.exists(p, false)
	}
	r.status("openvpn", "install ok installed", "")
	t.Logf("the whole root test: %s", time.Since(start).Round(time.Second))
}

// debMirror is the Debian mirror this host's apt uses for debSuite
// (deb822 .sources or one-line .list files), deb.debian.org if none.
func debMirror(t *testing.T) string {
	t.Helper()
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	for _, f := range append([]string{"/etc/apt/sources.list"}, files...) {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var uris string
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if v, ok := strings.CutPrefix(line, "URIs:"); ok {
				uris = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "Suites:"); ok && uris != "" && hasField(v, debSuite) {
				return strings.Fields(uris)[0]
			}
			if f := strings.Fields(line); len(f) >= 3 && f[0] == "deb" {
				for i := 1; i+1 < len(f); i++ {
					if strings.HasPrefix(f[i], "http") && f[i+1] == debSuite {
						return f[i]
					}
				}
			}
		}
	}
	return "http://deb.debian.org/debian"
}

func hasField(s, want string) bool {
	for _, f := range strings.Fields(s) {
		if f == want {
			return true
		}
	}
	return false
}

// tail is the last lines of a command's output, for an error.
func tail(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// chrootDir is the throwaway root and its checks.
type chrootDir struct {
	t    *testing.T
	root string
}

func (r chrootDir) path(p string) string { return filepath.Join(r.root, p) }

// run runs argv chrooted into the root, and returns its output.
func (r chrootDir) run(argv ...string) string {
	r.t.Helper()
	cmd := exec.Command("chroot", append([]string{r.root}, argv...)...)
	cmd.Env = []string{"PATH=" + chrootPath, "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("chroot %s: %v\n%s", strings.Join(argv, " "), err, tail(out))
	}
	return string(out)
}

// apt runs apt-get in the root without recommends; the maintainer scripts
// find the systemctl stub first (apt sets their PATH from DPkg::Path).
func (r chrootDir) apt(args ...string) string {
	r.t.Helper()
	return r.run(append([]string{"apt-get", "-y", "--no-install-recommends", "-o", "DPkg::Path=" + chrootPath}, args...)...)
}

// chrootPath is the PATH of commands in the root.
const chrootPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func (r chrootDir) write(p, data string, mode os.FileMode) {
	r.t.Helper()
	if err := os.MkdirAll(filepath.Dir(r.path(p)), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(r.path(p), []byte(data), mode); err != nil {
		r.t.Fatal(err)
	}
}

func (r chrootDir) read(p string) []byte {
	r.t.Helper()
	data, err := os.ReadFile(r.path(p))
	if err != nil {
		r.t.Fatal(err)
	}
	return data
}

// status checks dpkg's status and version of pkg; want "" : not known.
func (r chrootDir) status(pkg, want, version string) {
	r.t.Helper()
	cmd := exec.Command("chroot", r.root, "dpkg-query", "-W", "-f", "${Status}|${Version}", pkg)
	out, err := cmd.Output()
	got := strings.TrimSpace(string(out))
	if want == "" {
		if err == nil && !strings.HasPrefix(got, "unknown ok not-installed") {
			r.t.Errorf("dpkg still knows %s after purge: %q", pkg, got)
		}
		return
	}
	st, v, _ := strings.Cut(got, "|")
	if err != nil || st != want || (version != "" && v != version) {
		r.t.Errorf("dpkg status of %s: %q (%v), want %q %s", pkg, got, err, want, version)
	}
}

func (r chrootDir) mode(p string, want os.FileMode) {
	r.t.Helper()
	fi, err := os.Stat(r.path(p))
	if err != nil {
		r.t.Errorf("%s: %v", p, err)
		return
	}
	if fi.Mode().Perm() != want || !fi.Mode().IsRegular() {
		r.t.Errorf("%s: mode %s, want %#o", p, fi.Mode(), want)
	}
}

// enabled checks that the enable link p points at unit, by its /usr path
// or by /lib (deb-systemd-helper looks there first; merged /usr makes them
// one file).
func (r chrootDir) enabled(p, unit string) {
	r.t.Helper()
	got, err := os.Readlink(r.path(p))
	if err != nil || (got != unit && "/usr"+got != unit) {
		r.t.Errorf("%s -> %q (%v), want -> %s", p, got, err, unit)
	}
	if _, err := os.Stat(r.path(got)); err != nil { // resolved in the root
		r.t.Errorf("%s -> %s: %v", p, got, err)
	}
}

// link checks that p is a symlink to target.
func (r chrootDir) link(p, target string) {
	r.t.Helper()
	got, err := os.Readlink(r.path(p))
	if err != nil || got != target {
		r.t.Errorf("%s -> %q (%v), want -> %s", p, got, err, target)
	}
}

func (r chrootDir) exists(p string, want bool) {
	r.t.Helper()
	_, err := os.Lstat(r.path(p))
	if got := err == nil; got != want {
		r.t.Errorf("%s exists: %t, want %t", p, got, want)
	}
}

// calls checks the stub's calls since the last check: each of want ends
// one of them, in this order, and none ends with one of bad. It then
// empties the record.
func (r chrootDir) calls(want, bad []string) {
	r.t.Helper()
	log := r.path("/var/log/systemctl.calls")
	data, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		r.t.Fatal(err)
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	i := 0
	for _, c := range got {
		if i < len(want) && ends(c, want[i]) {
			i++
		}
		for _, b := range bad {
			if ends(c, b) {
				r.t.Errorf("systemctl %q called", c)
			}
		}
	}
	if i < len(want) {
		r.t.Errorf("systemctl calls %q, want calls ending %q in this order", got, want)
	}
	if err := os.Remove(log); err != nil && !os.IsNotExist(err) {
		r.t.Fatal(err)
	}
}

// ends says whether call ends with the words of w.
func ends(call, w string) bool { return call == w || strings.HasSuffix(call, " "+w) }
