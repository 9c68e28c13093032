package daemon

import (
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestAPIGroup: with --api-group a member of the group (not root) reads
// the endpoint and nothing else of the state dir: not the token, not the
// lock, not its listing; without the group, not even the endpoint.
func TestAPIGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (chown, and a process of another user)")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("no setpriv (util-linux)")
	}
	r, err := lookupReaders("nogroup")
	if err != nil {
		t.Skipf("no group nogroup: %v", err)
	}
	if _, err := lookupReaders("no-such-group-here"); err == nil {
		t.Error("an unknown --api-group was accepted")
	}
	// The test's temp dirs are 0700: let others through to the state dir.
	base := t.TempDir()
	for d := base; d != filepath.Dir(d) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	as := func(args ...string) error {
		cmd := exec.Command(setpriv, append([]string{"--reuid", "65534", "--regid", "65534", "--clear-groups"}, args...)...)
		return cmd.Run()
	}
	for _, shared := range []bool{true, false} {
		rd := readers{}
		if shared {
			rd = r
		}
		dir := filepath.Join(base, map[bool]string{true: "shared", false: "private"}[shared])
		d, err := openStateDir(dir, rd, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := apiToken(Options{StateDir: dir}, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		publishEndpoint(Options{StateDir: dir}, rd, &net.TCPAddr{IP: net.IPv4zero, Port: 3333}, "sha256//x", slog.New(slog.DiscardHandler))
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		wantMode := os.FileMode(0o700)
		if shared {
			wantMode = 0o710
		}
		if fi.Mode().Perm() != wantMode || shared && int(fi.Sys().(*syscall.Stat_t).Gid) != r.gid {
			t.Errorf("shared %t: state dir %v gid %d", shared, fi.Mode(), fi.Sys().(*syscall.Stat_t).Gid)
		}
		if err := as("cat", filepath.Join(dir, endpointFile)); (err == nil) != shared {
			t.Errorf("shared %t: a member of the group reading %s: %v", shared, endpointFile, err)
		}
		for _, name := range []string{"token", lockFile} {
			if err := as("cat", filepath.Join(dir, name)); err == nil {
				t.Errorf("shared %t: a member of the group read %s", shared, name)
			}
		}
		if err := as("ls", dir); err == nil {
			t.Errorf("shared %t: a member of the group listed the state dir", shared)
		}
		d.Close()
	}
}
