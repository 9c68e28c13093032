package tunnel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
)

// The test binary doubles as a fake openvpn (fakeEnv names a directory
// whose file "mode" says what to do) and as a fake daemon (daemonEnv).
const (
	fakeEnv   = "TUNNEL_TEST_FAKE_OPENVPN"
	daemonEnv = "TUNNEL_TEST_FAKE_DAEMON"
	// keepEnv holds a keepDaemonConfig: a daemon with a real openvpn.
	keepEnv = "TUNNEL_TEST_KEEP_DAEMON"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(daemonEnv); dir != "" {
		os.Exit(fakeDaemon(dir))
	}
	if cfg := os.Getenv(keepEnv); cfg != "" {
		os.Exit(keepDaemon(cfg))
	}
	if dir := os.Getenv(fakeEnv); dir != "" {
		os.Exit(fakeOpenVPN(dir, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeOpenVPN mimics openvpn: --version prints a version (2.6.14, or
// <dir>/version) and exits 1;
// --config reads <dir>/mode: "exit" exits 3 at once, "run" runs until
// SIGTERM, "stubborn" ignores SIGTERM; at SIGUSR1 (a new session) it
// writes <dir>/usr1.<pid> and goes on.
func fakeOpenVPN(dir string, args []string) int {
	if len(args) == 1 && args[0] == "--version" {
		version := "2.6.14"
		if v, err := os.ReadFile(filepath.Join(dir, "version")); err == nil {
			version = strings.TrimSpace(string(v))
		}
		fmt.Printf("OpenVPN %s x86_64-pc-linux-gnu [SSL (OpenSSL)] [fake]\n", version)
		return 1
	}
	if len(args) != 2 || args[0] != "--config" {
		fmt.Fprintln(os.Stderr, "fake openvpn: bad args", args)
		return 2
	}
	mode, _ := os.ReadFile(filepath.Join(dir, "mode"))
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			fmt.Println("SIGUSR1[soft,fake] received, process restarting")
			_ = os.WriteFile(sessionFile(dir, os.Getpid()), nil, 0o600)
		}
	}()
	fmt.Printf("fake openvpn pid %d mode %s\n", os.Getpid(), mode)
	_ = os.WriteFile(readyFile(dir, os.Getpid()), nil, 0o600)
	switch strings.TrimSpace(string(mode)) {
	case "exit":
		fmt.Fprintln(os.Stderr, "Exiting due to fatal error")
		return 3
	case "stubborn":
		fmt.Println("Initialization Sequence Completed")
		for range sigs {
			fmt.Println("SIGTERM ignored")
		}
	default:
		fmt.Println("Initialization Sequence Completed")
		<-sigs
		fmt.Println("SIGTERM[hard,] received, process exiting")
	}
	return 0
}

// fakeDaemon starts one tunnel with a fake openvpn, prints its PID and
// blocks until killed.
func fakeDaemon(dir string) int {
	os.Unsetenv(daemonEnv)
	os.Setenv(fakeEnv, dir)
	self, _ := os.Executable()
	m, err := newManager(Options{Dir: dir, OpenVPN: self}, newFakeDevices(), netns.None())
	if err == nil {
		err = m.Start(context.Background(), testSpec(filepath.Join(dir, "key"), "tap1", 1191))
	}
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	st, _ := m.Status("tap1")
	for range 1000 {
		if _, err := os.Stat(readyFile(dir, st.PID)); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println(st.PID)
	select {}
}

// keepDaemonConfig is what keepDaemon runs: one server tunnel with the
// real openvpn in a namespace, Options.Keep as told.
type keepDaemonConfig struct {
	NetNS, Dir, Key string
	Keep            bool
}

// keepDaemon runs a Manager as the daemon would, starts one tunnel,
// prints its openvpn's pid and blocks until killed.
func keepDaemon(cfg string) int {
	os.Unsetenv(keepEnv)
	var c keepDaemonConfig
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m, err := NewManager(Options{Dir: c.Dir, NetNS: c.NetNS, Keep: c.Keep, Logger: log})
	if err == nil {
		err = m.Start(context.Background(), Spec{Tap: "tap1", Role: Server, Port: 1191, KeyFile: c.Key})
	}
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	st, _ := m.Status("tap1")
	fmt.Println(st.PID)
	select {}
}

// readyFile is written by the fake openvpn once it handles signals.
func readyFile(dir string, pid int) string {
	return filepath.Join(dir, fmt.Sprintf("ready.%d", pid))
}

// sessionFile is written by the fake openvpn at each SIGUSR1.
func sessionFile(dir string, pid int) string {
	return filepath.Join(dir, fmt.Sprintf("usr1.%d", pid))
}

// waitReady waits until the fake openvpn of tap under m handles signals
// and returns its PID.
func (w *fakeWorld) waitReady(t *testing.T, m *Manager, tap string) int {
	t.Helper()
	var pid int
	testsupport.Eventually(t, waitLong, tap+"'s fake openvpn to be ready", func() bool {
		st, _ := m.Status(tap)
		pid = st.PID
		_, err := os.Stat(readyFile(w.dir, pid))
		return st.Running && err == nil
	})
	return pid
}

func testSpec(key, tap string, port int) Spec {
	return Spec{Tap: tap, Role: Server, Port: port, KeyFile: key}
}

// fakeWorld is a fake openvpn and fake devices for one test.
type fakeWorld struct {
	dir string
	key string
	dev *fakeDevices
}

func newFakeWorld(t *testing.T, mode string) *fakeWorld {
	t.Helper()
	dir := t.TempDir()
	w := &fakeWorld{dir: dir, key: filepath.Join(dir, "key"), dev: newFakeDevices()}
	w.setMode(t, mode)
	if err := GenerateKey(w.key); err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeEnv, dir)
	return w
}

func (w *fakeWorld) setMode(t *testing.T, mode string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, "mode"), []byte(mode), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (w *fakeWorld) manager(t *testing.T, opts Options) *Manager {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Dir == "" {
		opts.Dir = filepath.Join(w.dir, "conf")
	}
	if opts.OpenVPN == "" {
		opts.OpenVPN = self
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	m, err := newManager(opts, w.dev, netns.None())
	if err != nil {
		t.Fatal(err)
	}
	testsupport.CloseAtEnd(t, "the manager", 10*time.Second, m.Close)
	return m
}

// fakeDevices keeps links in a map.
type fakeDevices struct {
	mu    sync.Mutex
	links map[string]*fakeLink
	ops   []string
}

type fakeLink struct{ up, ours, busy bool }

func newFakeDevices() *fakeDevices { return &fakeDevices{links: map[string]*fakeLink{}} }

func (d *fakeDevices) inspect(name string) (tapInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.links[name]
	if !ok {
		return tapInfo{}, nil
	}
	return tapInfo{found: true, ours: l.ours, busy: l.ours && l.busy, up: l.up}, nil
}

func (d *fakeDevices) createTap(name string, up bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.links[name]; ok {
		return errkind.Conflict("interface %s exists", name)
	}
	d.links[name] = &fakeLink{up: up, ours: true}
	d.ops = append(d.ops, fmt.Sprintf("create %s up=%t", name, up))
	return nil
}

func (d *fakeDevices) setUp(name string, up bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.links[name]
	if !ok {
		return fmt.Errorf("no link %s", name)
	}
	l.up = up
	d.ops = append(d.ops, fmt.Sprintf("set %s up=%t", name, up))
	return nil
}

func (d *fakeDevices) remove(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if l, ok := d.links[name]; ok && l.ours {
		delete(d.links, name)
		d.ops = append(d.ops, "remove "+name)
	}
	return nil
}

func (d *fakeDevices) close() error { return nil }

func (d *fakeDevices) link(name string) (fakeLink, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.links[name]
	if !ok {
		return fakeLink{}, false
	}
	return *l, true
}

func (d *fakeDevices) put(name string, l fakeLink) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.links[name] = &l
}

func (d *fakeDevices) drop(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.links, name)
}

// testLogger logs to t at debug level until the test's cleanup ends.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop) // registered first, so it runs last
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// processGone reports whether pid no longer runs the process whose
// command line mentioned marker (gone, a zombie, or another process).
func processGone(pid int, marker string) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
		return true
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return !bytes.Contains(cmdline, []byte(marker))
}
