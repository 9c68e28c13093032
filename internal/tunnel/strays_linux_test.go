package tunnel

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/testsupport"
)

// TestEndStrays: an openvpn of this config dir (as an openvpn that
// dropped its parent-death signal leaves it) is ended; one of another
// dir, and one with other arguments, are left alone.
func TestEndStrays(t *testing.T) {
	w := newFakeWorld(t, "stubborn") // ignores SIGTERM: SIGKILL must follow
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, other := t.TempDir(), t.TempDir()
	start := func(conf string) *exec.Cmd {
		cmd := exec.Command(self, "--config", conf)
		cmd.Env = append(os.Environ(), fakeEnv+"="+w.dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	stray := start(filepath.Join(dir, "tap1.conf"))
	keep := []*exec.Cmd{start(filepath.Join(other, "tap1.conf")), start(filepath.Join(dir, "sub", "tap1.conf"))}
	for _, c := range append(keep, stray) {
		w.waitPID(t, c.Process.Pid)
	}
	done := make(chan error, 1)
	go func() { done <- stray.Wait() }()
	if err := EndStrays(dir, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stray openvpn of this dir is still running")
	}
	for _, c := range keep {
		if err := syscall.Kill(c.Process.Pid, 0); err != nil {
			t.Errorf("an openvpn of another config (%v) was ended: %v", c.Args, err)
		}
	}
}

// waitPID waits until the fake openvpn pid is ready (handles its signals).
func (w *fakeWorld) waitPID(t *testing.T, pid int) {
	t.Helper()
	testsupport.Eventually(t, waitLong, "the fake openvpn to be ready", func() bool {
		_, err := os.Stat(readyFile(w.dir, pid))
		return err == nil
	})
}

// TestEndStraysByRole: a server end's stray gets SIGTERM (it tells its
// client, and exits), a client end's SIGKILL (its server must not restart
// just when the next daemon's client knocks).
func TestEndStraysByRole(t *testing.T) {
	w := newFakeWorld(t, "run") // exits 0 on SIGTERM
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ended := map[string]chan *os.ProcessState{}
	for tap, text := range map[string]string{
		"tap1": "# server end of tap1\nlport 1191\n",
		"tap2": "# client end of tap2\nremote 192.0.2.1 1192\nnobind\n",
	} {
		conf := filepath.Join(dir, tap+".conf")
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(self, "--config", conf)
		cmd.Env = append(os.Environ(), fakeEnv+"="+w.dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		w.waitPID(t, cmd.Process.Pid)
		ended[tap] = make(chan *os.ProcessState, 1)
		go func() { _ = cmd.Wait(); ended[tap] <- cmd.ProcessState }()
	}
	if err := EndStrays(dir, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	for tap, want := range map[string]string{"tap1": "exit status 0", "tap2": "signal: killed"} {
		select {
		case st := <-ended[tap]:
			if st.String() != want {
				t.Errorf("%s's stray ended with %q, want %q", tap, st, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s's stray is still running", tap)
		}
	}
}
