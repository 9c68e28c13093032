package e2e

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/topology"
)

// TestSecondDaemonRefused: a second daemon on a state dir in use exits
// non-zero at once, naming the holder's pid, and the first goes on.
func TestSecondDaemonRefused(t *testing.T) {
	tp := newTopology(t)
	first := startDaemon(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := tp.hub.Command(ctx, buildBinary(t), "daemon", "--state-dir", first.stateDir, "--listen", "127.0.0.1:3334")
	cmd.Env = append(os.Environ(), "MULTILINK_API_TOKEN="+testToken)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("second daemon: %v, want a non-zero exit\n%s", err, stderr.String())
	}
	if msg := stderr.String(); !strings.Contains(msg, "pid "+strconv.Itoa(first.Pid())) || !strings.Contains(msg, first.stateDir) {
		t.Errorf("second daemon's message does not name the holder's pid %d and the dir:\n%s", first.Pid(), msg)
	}
	if code := first.call(http.MethodPost, "/v1/server/start", specServerBody(t), nil); code != http.StatusOK {
		t.Errorf("the first daemon after the refusal: server start %d", code)
	}
}

// TestFullDiskIsTruthful: with the state dir on a full filesystem (a 1 MiB
// tmpfs, filled), a start answers 507 naming the reason and leaves nothing
// made, a stop answers 507 and stops nothing; once there is room again,
// both work and a restart brings back exactly what was saved.
func TestFullDiskIsTruthful(t *testing.T) {
	tp := newTopology(t)
	state := smallTmpfs(t)
	hub := startDaemonIn(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken, state)
	filler := filepath.Join(state, "filler")
	fill(t, filler)

	var e struct {
		Error string `json:"error"`
	}
	if code := hub.call(http.MethodPost, "/v1/server/start", specServerBody(t), &e); code != http.StatusInsufficientStorage ||
		!strings.Contains(e.Error, "no space left on device") {
		t.Fatalf("server start on a full disk: %d %q, want 507 naming the reason", code, e.Error)
	}
	for _, name := range []string{"br0", "tap1", "tap2"} {
		if _, err := tp.hub.Handle.LinkByName(name); err == nil {
			t.Errorf("%s left after a start that could not be saved", name)
		}
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if code := hub.call(http.MethodPost, "/v1/server/start", specServerBody(t), nil); code != http.StatusOK {
		t.Fatalf("server start with room: %d", code)
	}
	fill(t, filler)
	if code := hub.call(http.MethodPost, "/v1/server/stop/br0", nil, &e); code != http.StatusInsufficientStorage {
		t.Fatalf("server stop on a full disk: %d %q, want 507", code, e.Error)
	}
	if _, err := tp.hub.Handle.LinkByName("br0"); err != nil {
		t.Errorf("br0 gone after a stop that could not be saved: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := hub.Kill(); err != nil {
		t.Fatal(err)
	}
	again := hub.again(t)
	var st struct {
		Started bool `json:"started"`
	}
	if code := again.call(http.MethodGet, "/v1/server/status", nil, &st); code != http.StatusOK || !st.Started {
		t.Errorf("after a restart: %d %+v, want br0 back", code, st)
	}
}

// smallTmpfs mounts a 1 MiB tmpfs for a state dir, unmounted at the end.
func smallTmpfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0700"); err != nil {
		t.Skipf("mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	return state
}

// fill writes path until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for i := 0; i < 1024; i++ { // a 1 MiB tmpfs fills long before 64 MiB
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, unix.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
	t.Fatal("the filesystem never filled")
}
