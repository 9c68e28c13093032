package tunnel

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vishvananda/netns"
)

// TestCheckProcess: a pid record vouches for the process it was written
// for, running that config in that namespace, and for nothing else: a
// forged start time, another config, another boot, another namespace and
// an exited process are refused.
func TestCheckProcess(t *testing.T) {
	w := newFakeWorld(t, "run")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "tap1.conf")
	cmd := exec.Command(self, "--config", conf)
	cmd.Env = append(os.Environ(), fakeEnv+"="+w.dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	w.waitPID(t, cmd.Process.Pid)
	ino, err := nsIdentity(nsNone)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newPidRecord(cmd.Process.Pid, self, []byte("text"), ino, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.StartTicks == 0 || r.BootID == "" || r.PidNS == 0 || r.Restarts != 2 || r.ConfSHA256 != confSum([]byte("text")) {
		t.Fatalf("record %+v", r)
	}
	if err := checkProcess(r, conf, ino); err != nil {
		t.Fatalf("the recorded process refused: %v", err)
	}
	forged := r
	forged.StartTicks++
	other := r
	other.BootID = "another boot"
	for name, c := range map[string]struct {
		r    pidRecord
		conf string
	}{
		"forged start time": {forged, conf},
		"another boot":      {other, conf},
		"another config":    {r, filepath.Join(filepath.Dir(conf), "tap2.conf")},
	} {
		if err := checkProcess(c.r, c.conf, ino); !errors.Is(err, errNotThat) {
			t.Errorf("%s: %v, want refused as not the recorded process", name, err)
		}
	}
	if err := checkProcess(r, conf, ino+1); err == nil || errors.Is(err, errNotThat) {
		t.Errorf("another network namespace: %v, want refused (but the process is the recorded one)", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := checkProcess(r, conf, ino); !errors.Is(err, errNotThat) {
		t.Errorf("exited process: %v, want refused", err)
	}
}

// nsNone is the caller's namespace.
var nsNone = netns.None()
