package deploytest

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The two versions the package tests build: the second upgrades the first.
const (
	debV1 = "v1.0.0"
	debV2 = "v1.0.1"
)

// debs are the packages make deb built for the tests.
type debs struct {
	v1amd64, v1arm64, v2amd64 string
}

// buildDebs runs make deb twice into temporary dirs: v1 for both
// architectures, v2 for amd64 only (the upgrade).
func buildDebs(t *testing.T) debs {
	t.Helper()
	dir := t.TempDir()
	start := time.Now()
	for _, b := range []struct{ version, arches string }{{debV1, "amd64 arm64"}, {debV2, "amd64"}} {
		cmd := exec.Command("make", "deb", "VERSION="+b.version, "DEB_ARCHES="+b.arches, "DIST="+filepath.Join(dir, b.version))
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make deb VERSION=%s: %v\n%s", b.version, err, out)
		}
	}
	t.Logf("make deb, three packages: %s", time.Since(start).Round(time.Second))
	d := debs{
		v1amd64: filepath.Join(dir, debV1, "multilink_1.0.0_amd64.deb"),
		v1arm64: filepath.Join(dir, debV1, "multilink_1.0.0_arm64.deb"),
		v2amd64: filepath.Join(dir, debV2, "multilink_1.0.1_amd64.deb"),
	}
	for _, p := range []string{d.v1amd64, d.v1arm64, d.v2amd64} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("make deb did not write %s: %v", p, err)
		}
	}
	return d
}

// TestDeb builds the Debian packages with make deb and checks them: their
// control fields, files, modes, conffiles and scripts (dpkg-deb), the
// binaries' architectures (debug/elf), the unit (systemd-analyze verify),
// and their life in a throwaway Debian root: install with apt (pulling
// openvpn), upgrade, remove, purge (debootstrap; see debroot_test.go).
func TestDeb(t *testing.T) {
	requireTools(t, false, "make", "dpkg-deb", "systemd-analyze")
	boot := startBootstrap(t)
	d := buildDebs(t)
	t.Run("control", func(t *testing.T) {
		for p, want := range map[string]map[string]string{
			d.v1amd64: {"Version": "1.0.0-1", "Architecture": "amd64"},
			d.v1arm64: {"Version": "1.0.0-1", "Architecture": "arm64"},
			d.v2amd64: {"Version": "1.0.1-1", "Architecture": "amd64"},
		} {
			want["Package"] = "multilink"
			want["Depends"] = "openvpn (>= 2.6), init-system-helpers (>= 1.54~)"
			want["Section"] = "net"
			for field, v := range want {
				if got := dpkgDeb(t, "-f", p, field); got != v {
					t.Errorf("%s: %s %q, want %q", filepath.Base(p), field, got, v)
				}
			}
			if got := dpkgDeb(t, "--info", p, "conffiles"); got != "/etc/default/multilink\n/etc/multilink/config.yaml" {
				t.Errorf("%s: conffiles %q", filepath.Base(p), got)
			}
			for _, script := range []string{"postinst", "prerm", "postrm"} {
				want, err := os.ReadFile(filepath.Join("..", "packaging", "deb", script))
				if err != nil {
					t.Fatal(err)
				}
				if got := dpkgDeb(t, "--info", p, script); got != strings.TrimSpace(string(want)) {
					t.Errorf("%s: %s is not packaging/deb/%s", filepath.Base(p), script, script)
				}
			}
		}
	})
	t.Run("files", func(t *testing.T) {
		want := map[string]string{
			"./usr/bin/multilink":                        "-rwxr-xr-x root/root",
			"./usr/lib/systemd/system/multilink.service": "-rw-r--r-- root/root",
			"./etc/multilink/config.yaml":                "-rw-r--r-- root/root",
			"./etc/default/multilink":                    "-rw-r--r-- root/root",
			"./usr/share/doc/multilink/README.md":        "-rw-r--r-- root/root",
		}
		for _, p := range []string{d.v1amd64, d.v1arm64} {
			got := map[string]string{}
			for _, line := range strings.Split(dpkgDeb(t, "--contents", p), "\n") {
				f := strings.Fields(line)
				if len(f) >= 6 && !strings.HasSuffix(f[5], "/") {
					got[f[5]] = f[0] + " " + f[1]
				}
			}
			for path, mode := range want {
				if got[path] != mode {
					t.Errorf("%s: %s is %q, want %q", filepath.Base(p), path, got[path], mode)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%s holds %d files, want %d: %v", filepath.Base(p), len(got), len(want), got)
			}
		}
	})
	t.Run("elf", func(t *testing.T) {
		for p, machine := range map[string]elf.Machine{d.v1amd64: elf.EM_X86_64, d.v1arm64: elf.EM_AARCH64} {
			f, err := elf.NewFile(bytes.NewReader(debFile(t, p, "./usr/bin/multilink")))
			if err != nil {
				t.Fatalf("%s: /usr/bin/multilink: %v", filepath.Base(p), err)
			}
			if f.Machine != machine || f.Class != elf.ELFCLASS64 {
				t.Errorf("%s: /usr/bin/multilink is %s %s, want %s", filepath.Base(p), f.Class, f.Machine, machine)
			}
			for _, prog := range f.Progs {
				if prog.Type == elf.PT_INTERP {
					t.Errorf("%s: /usr/bin/multilink is dynamically linked (CGO_ENABLED=0 makes it static)", filepath.Base(p))
				}
			}
		}
	})
	t.Run("unit", func(t *testing.T) { verifyUnit(t, d.v1amd64) })
	rootOK := t.Run("root", func(t *testing.T) { testDebRoot(t, d, boot) })
	t.Run("systemd", func(t *testing.T) {
		if !rootOK {
			t.Fatal("the root subtest failed: its root is no base for this one")
		}
		testDebSystemd(t, d, boot)
	})
}

// dpkgDeb runs dpkg-deb and returns its output, trimmed.
func dpkgDeb(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", args...).Output()
	if err != nil {
		t.Fatalf("dpkg-deb %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// debFile reads one file of a package's data archive.
func debFile(t *testing.T, deb, name string) []byte {
	t.Helper()
	out, err := exec.Command("dpkg-deb", "--fsys-tarfile", deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb --fsys-tarfile %s: %v", deb, err)
	}
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == name {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
	t.Fatalf("%s holds no %s", deb, name)
	return nil
}

// verifyUnit runs systemd-analyze verify on the unit as the package
// installs it: in a root made of the package's files and this host's
// systemd units (the targets it names), so that the ExecStart binary is
// the package's. A root without the binary must fail it: the check bites.
func verifyUnit(t *testing.T, deb string) {
	root := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	units := filepath.Join(root, "usr", "lib", "systemd", "system")
	host, err := filepath.Glob("/usr/lib/systemd/system/*.target")
	if err != nil || len(host) == 0 {
		t.Fatalf("this host has no systemd targets in /usr/lib/systemd/system (%v)", err)
	}
	for _, p := range host {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // a dangling alias
		}
		if err := os.WriteFile(filepath.Join(units, filepath.Base(p)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	verify := func() (string, error) {
		out, err := exec.Command("systemd-analyze", "verify", "--root="+root, "/usr/lib/systemd/system/multilink.service").CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := verify(); err != nil || out != "" {
		t.Errorf("systemd-analyze verify multilink.service: %v\n%s", err, out)
	}
	// ExecStart's flags are the daemon's: parsed, then -h answers 0.
	argv := execStart(t, filepath.Join(units, "multilink.service"))
	if argv[0] != "/usr/bin/multilink" || len(argv) < 2 || argv[1] != "daemon" {
		t.Fatalf("ExecStart %q: want /usr/bin/multilink daemon ...", argv)
	}
	if out, err := exec.Command(filepath.Join(root, argv[0]), append(argv[1:], "-h")...).CombinedOutput(); err != nil {
		t.Errorf("%s -h (ExecStart's flags): %v\n%s", strings.Join(argv, " "), err, out)
	}
	if err := os.Remove(filepath.Join(root, "usr", "bin", "multilink")); err != nil {
		t.Fatal(err)
	}
	if out, err := verify(); err == nil || !strings.Contains(out, "/usr/bin/multilink") {
		t.Errorf("systemd-analyze verify passed a root without /usr/bin/multilink: %v %s", err, out)
	}
}

// execStart is the unit's ExecStart command line, without the environment
// variables it expands ($MULTILINK_OPTS: empty by default).
func execStart(t *testing.T, unit string) []string {
	t.Helper()
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	var argv []string
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			if argv != nil {
				t.Fatalf("%s: more than one ExecStart", unit)
			}
			for _, f := range strings.Fields(v) {
				if !strings.HasPrefix(f, "$") {
					argv = append(argv, f)
				}
			}
		}
	}
	if len(argv) == 0 {
		t.Fatalf("%s: no ExecStart", unit)
	}
	return argv
}
