package tunnel

import (
	"bufio"
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
	"github.com/vishvananda/netns"
)

const waitLong = 10 * time.Second

func TestStartStop(t *testing.T) {
	w := newFakeWorld(t, "run")
	m := w.manager(t, Options{})
	ctx := context.Background()
	if err := m.Start(ctx, testSpec(w.key, "tap1", 1191)); err != nil {
		t.Fatal(err)
	}
	st, ok := m.Status("tap1")
	if !ok || !st.Running || st.PID == 0 || !st.AdminUp || st.Restarts != 0 || st.Role != Server || st.Port != 1191 {
		t.Fatalf("status after Start: %+v %t", st, ok)
	}
	if l, ok := w.dev.link("tap1"); !ok || !l.up {
		t.Fatalf("tap1 after Start: %+v %t, want up", l, ok)
	}
	conf := filepath.Join(w.dir, "conf", "tap1.conf")
	fi, err := os.Stat(conf)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", fi, err)
	}
	if err := m.Stop(ctx, "tap1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Status("tap1"); ok {
		t.Error("tap1 still managed after Stop")
	}
	if _, ok := w.dev.link("tap1"); ok {
		t.Error("tap1 still exists after Stop")
	}
	if _, err := os.Stat(conf); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("config file after Stop: %v", err)
	}
	if !processGone(st.PID, conf) {
		t.Errorf("process %d still runs after Stop", st.PID)
	}
	if err := m.Stop(ctx, "tap1"); !errors.Is(err, errkind.ErrNotFound) {
		t.Errorf("second Stop = %v, want not found", err)
	}
}

func TestRestartWithBackoff(t *testing.T) {
	w := newFakeWorld(t, "exit")
	m := w.manager(t, Options{MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err := m.Start(context.Background(), testSpec(w.key, "tap1", 1191)); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, waitLong, "three restarts", func() bool {
		st, _ := m.Status("tap1")
		return st.Restarts >= 3
	})
	st, _ := m.Status("tap1")
	if st.LastExit != "exit status 3" {
		t.Errorf("LastExit = %q, want exit status 3", st.LastExit)
	}
	w.setMode(t, "run")
	testsupport.Eventually(t, waitLong, "a run that lasts", func() bool {
		st, _ := m.Status("tap1")
		return st.Running && st.PID != 0 && !processGone(st.PID, "tap1.conf")
	})
	// The TAP was never re-created: it outlives the process.
	if n := strings.Count(strings.Join(w.dev.ops, "\n"), "create tap1"); n != 1 {
		t.Errorf("tap1 created %d times, want 1: %q", n, w.dev.ops)
	}
}

func TestStopStubbornProcess(t *testing.T) {
	w := newFakeWorld(t, "stubborn")
	m := w.manager(t, Options{StopTimeout: 200 * time.Millisecond})
	if err := m.Start(context.Background(), testSpec(w.key, "tap1", 1191)); err != nil {
		t.Fatal(err)
	}
	pid := w.waitReady(t, m, "tap1")
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	began := time.Now()
	if err := m.Stop(ctx, "tap1"); err != nil {
		t.Fatal(err)
	}
	if time.Since(began) < 200*time.Millisecond {
		t.Errorf("Stop returned before StopTimeout: the process did not ignore SIGTERM")
	}
	if !processGone(pid, "tap1.conf") {
		t.Errorf("process %d survived Stop", pid)
	}
}

func TestSetUpRemembered(t *testing.T) {
	w := newFakeWorld(t, "run")
	m := w.manager(t, Options{MinBackoff: time.Millisecond})
	ctx := context.Background()
	if err := m.Start(ctx, testSpec(w.key, "tap1", 1191)); err != nil {
		t.Fatal(err)
	}
	if err := m.SetUp(ctx, "tap1", false); err != nil {
		t.Fatal(err)
	}
	if l, _ := w.dev.link("tap1"); l.up {
		t.Fatal("tap1 up after SetUp(false)")
	}
	// The TAP vanishes and the process dies: the TAP comes back down.
	w.dev.drop("tap1")
	st, _ := m.Status("tap1")
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, waitLong, "restart", func() bool {
		st, _ := m.Status("tap1")
		return st.Restarts == 1 && st.Running
	})
	l, ok := w.dev.link("tap1")
	if !ok || l.up {
		t.Fatalf("tap1 after restart: %+v exists=%t, want down", l, ok)
	}
	if st, _ := m.Status("tap1"); st.AdminUp || st.LastExit != "signal: killed" {
		t.Errorf("status after restart: %+v", st)
	}
	if err := m.SetUp(ctx, "tap9", true); !errors.Is(err, errkind.ErrNotFound) {
		t.Errorf("SetUp of an unmanaged tap = %v, want not found", err)
	}
}

func TestStartConflicts(t *testing.T) {
	w := newFakeWorld(t, "run")
	m := w.manager(t, Options{})
	ctx := context.Background()
	if err := m.Start(ctx, testSpec(w.key, "tap1", 1191)); err != nil {
		t.Fatal(err)
	}
	w.dev.put("eth0", fakeLink{up: true})                         // not ours
	w.dev.put("tap7", fakeLink{up: false, ours: true})            // left by an earlier run, set down
	w.dev.put("tap8", fakeLink{up: true, ours: true, busy: true}) // ours, held by a process of no manager's
	for _, c := range []struct {
		name string
		spec Spec
		want error
	}{
		{"managed already", testSpec(w.key, "tap1", 1195), errkind.ErrConflict},
		{"foreign interface", testSpec(w.key, "eth0", 1195), errkind.ErrConflict},
		{"held TAP", testSpec(w.key, "tap8", 1195), errkind.ErrConflict},
		{"port taken", testSpec(w.key, "tap2", 1191), errkind.ErrConflict},
		{"bad spec", testSpec(w.key, "tap 2", 1195), errkind.ErrInvalid},
		{"missing key", testSpec(filepath.Join(w.dir, "nokey"), "tap2", 1195), errkind.ErrInvalid},
		{"bad key", testSpec(filepath.Join(w.dir, "mode"), "tap2", 1195), errkind.ErrInvalid},
	} {
		if err := m.Start(ctx, c.spec); !errors.Is(err, c.want) {
			t.Errorf("%s: Start = %v, want %v", c.name, err, c.want)
		}
	}
	if _, ok := w.dev.link("tap2"); ok {
		t.Error("a refused Start left tap2")
	}
	if err := m.Start(ctx, testSpec(w.key, "tap7", 1197)); err != nil {
		t.Fatalf("Start over our leftover TAP: %v", err)
	}
	// Taken over as it is (it may be a bridge port or a bond slave), its
	// admin state kept.
	if ops := strings.Join(w.dev.ops, "\n"); strings.Contains(ops, "tap7") {
		t.Errorf("leftover tap7 not taken over as it was: %q", w.dev.ops)
	}
	if st, _ := m.Status("tap7"); st.AdminUp || !st.Running {
		t.Errorf("tap7 taken over down: %+v, want running with AdminUp false", st)
	}
	if err := m.Start(ctx, Spec{Tap: "tap3", Role: Client, Port: 1191, Remote: netip.MustParseAddr("192.0.2.1"), KeyFile: w.key}); err != nil {
		t.Errorf("a client may use a server's port number: %v", err)
	}
	if l := m.List(); len(l) != 3 || l[0].Tap != "tap1" || l[1].Tap != "tap3" || l[2].Tap != "tap7" {
		t.Errorf("List = %+v", l)
	}
}

func TestStartWithoutOpenVPN(t *testing.T) {
	w := newFakeWorld(t, "run")
	m := w.manager(t, Options{OpenVPN: filepath.Join(w.dir, "no-such-openvpn")})
	err := m.Start(context.Background(), testSpec(w.key, "tap1", 1191))
	// A host without openvpn lacks what a tunnel needs: 501, not 502.
	if !errors.Is(err, errkind.ErrUnsupported) || errkind.KindOf(err) != errkind.KindUnsupported {
		t.Fatalf("Start = %v, want unsupported", err)
	}
	if _, ok := w.dev.link("tap1"); ok {
		t.Error("failed Start left tap1")
	}
}

// TestStartWithOldOpenVPN: an openvpn without bind-dev (before 2.5) or one
// that does not say its version is a host problem too.
func TestStartWithOldOpenVPN(t *testing.T) {
	for _, out := range []string{"OpenVPN 2.4.7 x86_64-pc-linux-gnu", "not openvpn at all"} {
		w := newFakeWorld(t, "run")
		bin := filepath.Join(w.dir, "old-openvpn")
		if err := os.WriteFile(bin, []byte("#!/bin/sh\necho '"+out+"'\nexit 1\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		m := w.manager(t, Options{OpenVPN: bin})
		err := m.Start(context.Background(), testSpec(w.key, "tap1", 1191))
		if errkind.KindOf(err) != errkind.KindUnsupported {
			t.Errorf("%q: Start = %v, want unsupported", out, err)
		}
		if _, ok := w.dev.link("tap1"); ok {
			t.Errorf("%q: failed Start left tap1", out)
		}
	}
}

func TestStartFailsToExec(t *testing.T) {
	w := newFakeWorld(t, "run")
	m := w.manager(t, Options{})
	// The version probe succeeds, then the binary goes away.
	if _, _, err := m.probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.openvpn = filepath.Join(w.dir, "gone")
	err := m.Start(context.Background(), testSpec(w.key, "tap1", 1191))
	if err == nil {
		t.Fatal("Start succeeded without a binary")
	}
	if _, ok := w.dev.link("tap1"); ok {
		t.Error("failed Start left tap1")
	}
	if _, ok := m.Status("tap1"); ok {
		t.Error("failed Start left tap1 managed")
	}
	if _, err := os.Stat(filepath.Join(w.dir, "conf", "tap1.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed Start left the config file: %v", err)
	}
}

func TestCloseStopsAll(t *testing.T) {
	base := runtime.NumGoroutine()
	w := newFakeWorld(t, "run")
	m := w.manager(t, Options{})
	ctx := context.Background()
	var pids []int
	for i, tap := range []string{"tap1", "tap2", "tap3"} {
		if err := m.Start(ctx, testSpec(w.key, tap, 1191+i)); err != nil {
			t.Fatal(err)
		}
		st, _ := m.Status(tap)
		pids = append(pids, st.PID)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(m.List()) != 0 || len(w.dev.links) != 0 {
		t.Errorf("after Close: tunnels %+v, links %v", m.List(), w.dev.links)
	}
	for _, pid := range pids {
		if !processGone(pid, ".conf") {
			t.Errorf("process %d survived Close", pid)
		}
	}
	if err := m.Start(ctx, testSpec(w.key, "tap1", 1191)); !errors.Is(err, errkind.ErrUnavailable) {
		t.Errorf("Start after Close = %v, want unavailable", err)
	}
	if err := m.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	testsupport.Eventually(t, waitLong, "goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
}

// TestDaemonDeathKillsTunnels kills a daemon with SIGKILL: its openvpn
// must die too (parent-death signal, tied to the thread that forked it).
func TestDaemonDeathKillsTunnels(t *testing.T) {
	w := newFakeWorld(t, "run")
	self, _ := os.Executable()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), daemonEnv+"="+w.dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read tunnel pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("daemon said %q", line)
	}
	if processGone(pid, "tap1.conf") {
		t.Fatalf("tunnel process %d is not running", pid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	testsupport.Eventually(t, waitLong, "the orphaned tunnel process to die", func() bool { return processGone(pid, "tap1.conf") })
}

// NewSession signals the running openvpn (SIGUSR1): the same process
// goes on, and the TAP stays; a TAP the manager does not run is not found.
func TestNewSession(t *testing.T) {
	w := newFakeWorld(t, "run")
	m := w.manager(t, Options{})
	if err := m.Start(context.Background(), testSpec(w.key, "tap1", 1191)); err != nil {
		t.Fatal(err)
	}
	pid := w.waitReady(t, m, "tap1")
	if err := m.NewSession("tap1"); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, waitLong, "the fake openvpn to see SIGUSR1", func() bool {
		_, err := os.Stat(sessionFile(w.dir, pid))
		return err == nil
	})
	st, _ := m.Status("tap1")
	if !st.Running || st.PID != pid || st.Restarts != 0 {
		t.Errorf("after NewSession: %+v, want the same process %d running, no restart", st, pid)
	}
	if n := strings.Count(strings.Join(w.dev.ops, "\n"), "create tap1"); n != 1 {
		t.Errorf("tap1 created %d times, want 1: %q", n, w.dev.ops)
	}
	if err := m.NewSession("tap9"); !errors.Is(err, errkind.ErrNotFound) {
		t.Errorf("NewSession(tap9) = %v, want not found", err)
	}
}

// Options.Nice is checked (-20..19, named in the error) and given to
// every openvpn process as it starts.
func TestNice(t *testing.T) {
	w := newFakeWorld(t, "run")
	for _, n := range []int{-21, 20} {
		_, err := newManager(Options{Dir: filepath.Join(w.dir, "bad"), OpenVPN: "/bin/true", Nice: n}, w.dev, netns.None())
		if !errors.Is(err, errkind.ErrInvalid) || !strings.Contains(err.Error(), "nice") {
			t.Errorf("Nice %d: %v, want invalid naming nice", n, err)
		}
	}
	// A positive niceness needs no privilege: the test runs as any user.
	m := w.manager(t, Options{Nice: 7})
	if err := m.Start(context.Background(), testSpec(w.key, "tap1", 1191)); err != nil {
		t.Fatal(err)
	}
	pid := w.waitReady(t, m, "tap1")
	got, err := syscall.Getpriority(syscall.PRIO_PROCESS, pid)
	if err != nil {
		t.Fatal(err)
	}
	// The raw syscall returns 20 - nice.
	if nice := 20 - got; nice != 7 {
		t.Errorf("openvpn %d runs at nice %d, want 7", pid, nice)
	}
}
