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

	"github.com/multilink/multilink/internal/nstest"

	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/topology"
)

// TestSecondDaemonRefused: a second daemon on a state dir in use exits
// non-zero at once, naming the holder's pid, and the first goes on.
func TestSecondDaemonRefused(t *testing.T) {
	nstest.HostOnly(t)
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
	nstest.HostOnly(t)
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

// TestBadStateFileStops: a daemon whose state file is empty or damaged
// exits non-zero naming the file and what to do, makes nothing, and
// leaves the file as it was.
func TestBadStateFileStops(t *testing.T) {
	nstest.HostOnly(t)
	tp := newTopology(t)
	for name, data := range map[string]string{"empty": "", "truncated": `{"servers": [{"bridge_interface": "br0"`} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "state.json")
			if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := tp.hub.Command(ctx, buildBinary(t), "daemon", "--state-dir", dir, "--listen", "127.0.0.1:3334")
			cmd.Env = append(os.Environ(), "MULTILINK_API_TOKEN="+testToken)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 {
				t.Fatalf("daemon on a %s state file: %v, want a non-zero exit\n%s", name, err, out)
			}
			if !strings.Contains(string(out), path) || !strings.Contains(string(out), "restore it from a backup") {
				t.Errorf("the message does not name %s and what to do:\n%s", path, out)
			}
			if back, err := os.ReadFile(path); err != nil || string(back) != data {
				t.Errorf("the state file changed: %q %v", back, err)
			}
			if got := links(t, tp.hub); len(got) > 3 {
				t.Errorf("interfaces made: %v", got)
			}
		})
	}
}

// TestCredentialsRedacted: credentials in server_api_url reach neither
// the client status nor the daemon's log.
func TestCredentialsRedacted(t *testing.T) {
	nstest.HostOnly(t)
	tp := newTopology(t)
	hub := startDaemon(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken)
	gw := startDaemon(t, tp.gw, "127.0.0.1:"+topology.APIPort, testToken, "--bond-driver", "ebpf")
	if code := hub.call(http.MethodPost, "/v1/server/start", specServerBody(t), nil); code != http.StatusOK {
		t.Fatalf("server start: %d", code)
	}
	body := strings.Replace(string(pinned(t, hub, specClientBody(t))), "https://", "https://alice:s3cret-pass@", 1)
	if code := gw.call(http.MethodPost, "/v1/client/start", []byte(body), nil); code != http.StatusOK {
		t.Fatalf("client start: %d", code)
	}
	code, data, err := gw.Do(t.Context(), http.MethodGet, "/v1/client/status", nil, false)
	if err != nil || code != http.StatusOK {
		t.Fatalf("client status: %d %v", code, err)
	}
	if !strings.Contains(string(data), "xxxxx@"+topology.HubU1) {
		t.Errorf("status does not show the redacted URL: %s", data)
	}
	for what, text := range map[string]string{"status": string(data), "gateway log": gw.Logs(0)} {
		if strings.Contains(text, "s3cret") || strings.Contains(text, "alice") {
			t.Errorf("the %s shows the credentials", what)
		}
	}
}

// TestStateDirAndTokenMadePrivate: a daemon given a state dir others may
// read (0755) and a token file others may read (0644) narrows both, with
// a warning, and runs.
func TestStateDirAndTokenMadePrivate(t *testing.T) {
	nstest.HostOnly(t)
	tp := newTopology(t)
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte(testToken+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(token, 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemonIn(t, tp.hub, "127.0.0.1:"+topology.APIPort, testToken, dir, "--token-file", token)
	for path, want := range map[string]os.FileMode{dir: 0o700, token: 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %04o", path, fi.Mode().Perm(), err, want)
		}
	}
	for _, w := range []string{"state dir was open to others", "token file was readable by others"} {
		if len(d.logLines(w)) == 0 {
			t.Errorf("no warning %q in the log", w)
		}
	}
}

// TestBridgeInsideAnUnderlay: a server whose bridge subnet overlaps an
// underlay's answers 409 naming the underlay, and nothing is made.
func TestBridgeInsideAnUnderlay(t *testing.T) {
	nstest.HostOnly(t)
	tp := newTopology(t)
	hub := startDaemon(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken)
	body := strings.Replace(string(specServerBody(t)), topology.HubTunnel, "192.0.2.254", 1)
	var e struct {
		Error string `json:"error"`
	}
	if code := hub.call(http.MethodPost, "/v1/server/start", []byte(body), &e); code != http.StatusConflict || !strings.Contains(e.Error, "u1") {
		t.Fatalf("bridge in u1's subnet: %d %q, want 409 naming u1", code, e.Error)
	}
	if got := links(t, tp.hub); len(got) != 3 {
		t.Errorf("interfaces after the refusal: %v", got)
	}
}
