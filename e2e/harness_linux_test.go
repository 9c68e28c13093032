package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/multilink/multilink/internal/demo"
	"github.com/multilink/multilink/internal/nstest"
)

// binary is the multilink binary under test, built once per test run.
var binary struct {
	once sync.Once
	dir  string // made for the build; TestMain removes it
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

func buildBinary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		if p := os.Getenv("MULTILINK_BIN"); p != "" {
			binary.path = p
			return
		}
		dir, err := os.MkdirTemp("", "multilink-e2e-bin-")
		if err != nil {
			binary.err = err
			return
		}
		binary.dir = dir
		binary.path = filepath.Join(dir, "multilink")
		cmd := exec.Command("go", "build", "-o", binary.path, "github.com/multilink/multilink/cmd/multilink")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatalf("build multilink: %v", binary.err)
	}
	return binary.path
}

// daemon is one multilink daemon running inside a namespace, the real
// binary driven through its API (demo.Daemon), with test helpers.
type daemon struct {
	*demo.Daemon
	t        testing.TB
	ns       *nstest.NS
	stateDir string
	addr     string   // its --listen
	token    string   // its API token
	extra    []string // its further flags
}

// startDaemon runs `multilink daemon` in ns, listening on addr, and waits
// until its API answers.
func startDaemon(t testing.TB, ns *nstest.NS, addr, token string, extra ...string) *daemon {
	t.Helper()
	return startDaemonIn(t, ns, addr, token, filepath.Join(t.TempDir(), "state"), extra...)
}

// startDaemonIn is startDaemon on a given state dir.
func startDaemonIn(t testing.TB, ns *nstest.NS, addr, token, stateDir string, extra ...string) *daemon {
	t.Helper()
	return launchDaemon(t, ns, addr, token, stateDir, nil, extra)
}

// launchDaemon is startDaemonIn with the daemon run under prefix (a
// command such as setpriv; nil: none).
func launchDaemon(t testing.TB, ns *nstest.NS, addr, token, stateDir string, prefix, extra []string) *daemon {
	t.Helper()
	return launchBinary(t, buildBinary(t), ns, addr, token, stateDir, prefix, extra)
}

// launchBinary is launchDaemon with the multilink binary bin.
func launchBinary(t testing.TB, bin string, ns *nstest.NS, addr, token, stateDir string, prefix, extra []string) *daemon {
	t.Helper()
	if !slices.ContainsFunc(extra, func(a string) bool { return strings.HasPrefix(a, "--bpffs") }) {
		// A private bpf file system for the daemon's pins, kept by again
		// (the host's /sys/fs/bpf is left alone).
		extra = append(slices.Clone(extra), "--bpffs", nstest.BPFFS(t))
	}
	dd, err := demo.StartDaemon(context.Background(), demo.DaemonOptions{Name: ns.Name, NS: netns.NsHandle(ns.Fd()), Prefix: prefix,
		Bin: bin, StateDir: stateDir, Listen: addr, Token: token, Args: append([]string{"--log-level", "debug"}, extra...),
		StartTimeout: startTimeout()})
	if err != nil {
		t.Fatalf("daemon in %s: %v", ns.Name, err)
	}
	d := &daemon{Daemon: dd, t: t, ns: ns, stateDir: stateDir, addr: addr, token: token, extra: extra}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("stop daemon in %s: %v", ns.Name, err)
		}
		if t.Failed() {
			t.Logf("daemon %s log:\n%s", ns.Name, d.Logs(0))
		}
	})
	if slices.ContainsFunc(extra, func(a string) bool { return strings.HasPrefix(a, "--keep-dataplane") }) {
		// Runs before the cleanup above: a kept data plane (openvpn
		// processes included) is removed once the daemon has stopped.
		t.Cleanup(func() {
			if err := d.Stop(); err != nil {
				t.Errorf("stop daemon in %s: %v", ns.Name, err)
			}
			d.purge(t)
		})
	}
	return d
}

// flagValue is the value of --name in d's flags ("" if not given).
func (d *daemon) flagValue(name string) string {
	for i, a := range d.extra {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(d.extra) {
			return d.extra[i+1]
		}
	}
	return ""
}

// purge runs multilink purge on d's state dir in its namespace (the
// daemon must have stopped).
func (d *daemon) purge(t testing.TB, extra ...string) {
	t.Helper()
	args := append([]string{"purge", "--state-dir", d.stateDir, "--bpffs", d.flagValue("--bpffs")}, extra...)
	if out, err := d.ns.Command(context.Background(), buildBinary(t), args...).CombinedOutput(); err != nil {
		t.Errorf("multilink purge in %s: %v\n%s", d.ns.Name, err, out)
	}
}

// again starts a new daemon with the same flags and state dir (the old
// one must have ended).
func (d *daemon) again(t testing.TB) *daemon {
	t.Helper()
	return startDaemonIn(t, d.ns, d.addr, d.token, d.stateDir, d.extra...)
}

// againWith starts a new daemon of binary bin with the same state dir and
// flags extra (the old one must have ended): an upgrade, or other flags.
func (d *daemon) againWith(t testing.TB, bin string, extra []string) *daemon {
	t.Helper()
	return launchBinary(t, bin, d.ns, d.addr, d.token, d.stateDir, nil, extra)
}

// stop ends the daemon with SIGTERM (as Kubernetes does) and waits for it.
func (d *daemon) stop() error { return d.Stop() }

// call sends a request with the token and decodes the JSON answer into out
// (may be nil); it returns the status code.
func (d *daemon) call(method, path string, body []byte, out any) int {
	d.t.Helper()
	return d.callAuth(method, path, body, out, true)
}

// callAuth is call with or without the token. Error answers are decoded
// into out too, and logged. A 429 (the daemon's limit on requests in
// flight, met when a test floods it) is tried again, as a client would,
// every 100 ms for up to 10 s.
func (d *daemon) callAuth(method, path string, body []byte, out any, auth bool) int {
	d.t.Helper()
	code, data, err := d.Do(context.Background(), method, path, body, auth)
	for try := 0; err == nil && code == http.StatusTooManyRequests && try < 100; try++ {
		time.Sleep(100 * time.Millisecond)
		code, data, err = d.Do(context.Background(), method, path, body, auth)
	}
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			d.t.Fatalf("%s %s: %d, body is not JSON: %v\n%s", method, path, code, err, data)
		}
	}
	if code >= 300 {
		d.t.Logf("%s %s -> %d %s", method, path, code, strings.TrimSpace(string(data)))
	}
	return code
}

// logLines returns the daemon's log lines that contain substr.
func (d *daemon) logLines(substr string) []string {
	var out []string
	for _, l := range strings.Split(d.Logs(0), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// startTimeout bounds a daemon's start: the lab's emulated CPUs take
// longer than the host's 20 s to start a binary not yet run there.
func startTimeout() time.Duration {
	if nstest.InLab() {
		return time.Minute
	}
	return 20 * time.Second
}
