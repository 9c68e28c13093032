package tunnel

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
// client, and exits), a client end's SIGKILL at once (its server must not
// restart just when the next daemon's client knocks).
func TestEndStraysByRole(t *testing.T) {
	w := newFakeWorld(t, "run") // says so and exits 0 on SIGTERM
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	type stray struct {
		out   *bytes.Buffer // read once the process ended (Wait has copied it all)
		ended chan *os.ProcessState
	}
	strays := map[string]stray{}
	for tap, text := range map[string]string{
		"tap1": "# server end of tap1\nlport 1191\n",
		"tap2": "# client end of tap2\nremote 192.0.2.1 1192\nnobind\n",
	} {
		conf := filepath.Join(dir, tap+".conf")
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		st := stray{out: &bytes.Buffer{}, ended: make(chan *os.ProcessState, 1)}
		cmd := exec.Command(self, "--config", conf)
		cmd.Env = append(os.Environ(), fakeEnv+"="+w.dir)
		cmd.Stdout = st.out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		w.waitPID(t, cmd.Process.Pid)
		go func() { _ = cmd.Wait(); st.ended <- cmd.ProcessState }()
		strays[tap] = st
	}
	if err := EndStrays(dir, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	for tap, sigterm := range map[string]bool{"tap1": true, "tap2": false} {
		select {
		case ps := <-strays[tap].ended:
			got := strings.Contains(strays[tap].out.String(), "SIGTERM")
			if got != sigterm {
				t.Errorf("%s's stray got SIGTERM: %v, want %v (output %q)", tap, got, sigterm, strays[tap].out.String())
			}
			if !sigterm && ps.String() != "signal: killed" {
				t.Errorf("%s's stray ended with %q, want SIGKILL", tap, ps)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s's stray is still running", tap)
		}
	}
}
