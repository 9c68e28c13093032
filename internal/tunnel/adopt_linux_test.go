package tunnel

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/testsupport"
)

// adoptLab is newLab's two namespaces with two static-key links, whose
// Managers can be released and replaced by new ones on the same dirs.
type adoptLab struct {
	*lab
	top   *testing.T      // the test whose end closes the Managers (not a subtest's)
	specs map[string]Spec // "hub/tap1", "gw/tap1", ...
}

func newAdoptLab(t *testing.T) *adoptLab {
	l := &adoptLab{lab: newLab(t), top: t, specs: map[string]Spec{}}
	// Released Managers leave processes behind: end them before the
	// namespaces go, whatever the test did.
	t.Cleanup(func() { _ = EndStrays(l.hubDir, testLogger(t)); _ = EndStrays(l.gwDir, testLogger(t)) })
	l.hm = l.manager(t, l.hub, l.hubDir)
	l.gm = l.manager(t, l.gw, l.gwDir)
	for i, tap := range []string{"tap1", "tap2"} {
		port := 1191 + i
		under := []string{"192.0.2.1", "198.51.100.1"}[i]
		l.specs["hub/"+tap] = Spec{Tap: tap, Role: Server, Port: port, KeyFile: l.key}
		l.specs["gw/"+tap] = Spec{Tap: tap, Role: Client, Port: port, Remote: netip.MustParseAddr(under), Device: "gv" + strconv.Itoa(i+1), KeyFile: l.key}
	}
	for _, k := range []string{"hub/tap1", "hub/tap2", "gw/tap1", "gw/tap2"} {
		m := l.hm
		if k[:2] == "gw" {
			m = l.gm
		}
		if err := m.Start(context.Background(), l.specs[k]); err != nil {
			t.Fatal(err)
		}
	}
	addAddr(t, l.hub, "tap1", "10.8.1.1/24")
	addAddr(t, l.gw, "tap1", "10.8.1.2/24")
	addAddr(t, l.hub, "tap2", "10.8.2.1/24")
	addAddr(t, l.gw, "tap2", "10.8.2.2/24")
	pingOK(t, l.gw, "10.8.1.1")
	pingOK(t, l.gw, "10.8.2.1")
	return l
}

// manager is a Manager with Keep in ns on dir, closed at the end of the
// whole test.
func (l *adoptLab) manager(_ *testing.T, ns *nstest.NS, dir string) *Manager {
	return nsManagerWith(l.top, ns, Options{Dir: dir, Logger: testLogger(l.top), Keep: true,
		MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, StopTimeout: 3 * time.Second})
}

// handOver releases m (processes kept) and starts the specs of side
// ("hub" or "gw") of taps in a new Manager on the same dir.
func (l *adoptLab) handOver(t *testing.T, m *Manager, side string, taps ...string) *Manager {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.Release(ctx, false); err != nil {
		t.Fatal(err)
	}
	ns, dir := l.hub, l.hubDir
	if side == "gw" {
		ns, dir = l.gw, l.gwDir
	}
	n := l.manager(t, ns, dir)
	for _, tap := range taps {
		if err := n.Start(ctx, l.specs[side+"/"+tap]); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// pids returns the pid of each tap's openvpn under m, checking each runs.
func pids(t *testing.T, m *Manager, taps ...string) map[string]Status {
	t.Helper()
	out := map[string]Status{}
	for _, tap := range taps {
		st, ok := m.Status(tap)
		if !ok || !st.Running || st.PID == 0 || !st.AdminUp {
			t.Fatalf("%s: %+v %t, want running and up", tap, st, ok)
		}
		out[tap] = st
	}
	return out
}

// pingStream starts a 10 ms ping of count packets from ns to addr; wait
// returns the packets sent and answered.
func pingStream(t *testing.T, ns *nstest.NS, addr string, count int) (wait func() (sent, got int)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(count)*10*time.Millisecond+20*time.Second)
	var out bytes.Buffer
	cmd := ns.Command(ctx, "ping", "-n", "-q", "-i", "0.01", "-c", strconv.Itoa(count), "-W", "1", addr)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	return func() (int, int) {
		defer cancel()
		_ = cmd.Wait() // exit 1 when a packet was lost: read the counts
		m := regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("ping %s: %s", addr, out.String())
		}
		sent, _ := strconv.Atoi(m[1])
		got, _ := strconv.Atoi(m[2])
		return sent, got
	}
}

// TestAdoption: Managers hand their openvpn processes over to new ones
// on the same dirs (a daemon restart with the data plane kept).
func TestAdoption(t *testing.T) {
	l := newAdoptLab(t)
	ctx := context.Background()
	hubBefore := pids(t, l.hm, "tap1", "tap2")
	gwBefore := pids(t, l.gm, "tap1", "tap2")

	// Both ends change hands while a 10 ms ping crosses tap1: same
	// processes, not a packet lost.
	wait := pingStream(t, l.gw, "10.8.1.1", 300)
	time.Sleep(500 * time.Millisecond)
	began := time.Now()
	hm := l.handOver(t, l.hm, "hub", "tap1", "tap2")
	gm := l.handOver(t, l.gm, "gw", "tap1", "tap2")
	took := time.Since(began)
	sent, got := wait()
	t.Logf("hand-over of both ends took %s; ping: %d sent, %d answered", took.Round(time.Millisecond), sent, got)
	if sent != 300 || got != sent {
		t.Errorf("ping across the hand-over: %d sent, %d answered, want 300 and none lost", sent, got)
	}
	for _, c := range []struct {
		m      *Manager
		before map[string]Status
	}{{hm, hubBefore}, {gm, gwBefore}} {
		for tap, st := range pids(t, c.m, "tap1", "tap2") {
			if st.PID != c.before[tap].PID || st.Restarts != c.before[tap].Restarts {
				t.Errorf("%s after the hand-over: %+v, want the adopted pid %d", tap, st, c.before[tap].PID)
			}
		}
	}

	t.Run("adopted openvpn killed is restarted", func(t *testing.T) {
		before, _ := gm.Status("tap1")
		if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		testsupport.Eventually(t, 20*time.Second, "tap1 to run a new openvpn", func() bool {
			st, _ := gm.Status("tap1")
			return st.Running && st.PID != before.PID && st.Restarts == before.Restarts+1
		})
		if st, _ := gm.Status("tap1"); st.LastExit != errStatusUnknown.Error() {
			t.Errorf("LastExit %q, want %q", st.LastExit, errStatusUnknown)
		}
		pingOK(t, l.gw, "10.8.1.1")
	})

	t.Run("changed spec restarts that tunnel only", func(t *testing.T) {
		before := pids(t, gm, "tap1", "tap2")
		l.specs["gw/tap1"] = withMark(l.specs["gw/tap1"], 7) // renders differently, still reaches the hub
		gm = l.handOver(t, gm, "gw", "tap1", "tap2")
		after := pids(t, gm, "tap1", "tap2")
		if after["tap1"].PID == before["tap1"].PID || after["tap2"].PID != before["tap2"].PID {
			t.Errorf("pids before %+v after %+v: want tap1's new, tap2's the same", before, after)
		}
		if !processGone(before["tap1"].PID, "tap1.conf") {
			t.Errorf("the openvpn of tap1's old config (%d) still runs", before["tap1"].PID)
		}
		pingOK(t, l.gw, "10.8.1.1")
		pingOK(t, l.gw, "10.8.2.1")
	})

	t.Run("pid file of another process", func(t *testing.T) {
		before := pids(t, gm, "tap2")["tap2"]
		idx, _ := tapState(t, l.gw, "tap2")
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := gm.Release(ctx, false); err != nil {
			t.Fatal(err)
		}
		sleep := exec.Command("sleep", "60")
		if err := sleep.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
		// A record true in all but the command line: the pid was reused.
		text, err := os.ReadFile(filepath.Join(l.gwDir, "tap2.conf"))
		if err != nil {
			t.Fatal(err)
		}
		ino, err := nsInode(l.gw.Path())
		if err != nil {
			t.Fatal(err)
		}
		r, err := newPidRecord(sleep.Process.Pid, "/usr/sbin/openvpn", text, ino, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := writePidFile(pidPath(l.gwDir, "tap2"), r); err != nil {
			t.Fatal(err)
		}
		gm = l.manager(t, l.gw, l.gwDir)
		for _, tap := range []string{"tap1", "tap2"} {
			if err := gm.Start(ctx, l.specs["gw/"+tap]); err != nil {
				t.Fatal(err)
			}
		}
		st := pids(t, gm, "tap2")["tap2"]
		if st.PID == before.PID || st.PID == sleep.Process.Pid {
			t.Errorf("tap2 runs %d (was %d, sleep %d): want a new openvpn", st.PID, before.PID, sleep.Process.Pid)
		}
		if err := sleep.Process.Signal(syscall.Signal(0)); err != nil || processGone(sleep.Process.Pid, "sleep") {
			t.Errorf("the sleep named by the pid file was signalled: %v", err)
		}
		if !processGone(before.PID, "tap2.conf") {
			t.Errorf("the unadopted openvpn %d still runs", before.PID)
		}
		if now, _ := tapState(t, l.gw, "tap2"); now != idx {
			t.Errorf("tap2 ifindex %d, was %d: want the TAP taken over, not made anew", now, idx)
		}
		pingOK(t, l.gw, "10.8.2.1")
	})

	t.Run("stop of an adopted tunnel", func(t *testing.T) {
		gm = l.handOver(t, gm, "gw", "tap1", "tap2")
		st := pids(t, gm, "tap1")["tap1"]
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second+2*time.Second) // StopTimeout and some
		defer cancel()
		if err := gm.Stop(ctx, "tap1"); err != nil {
			t.Fatal(err)
		}
		if !processGone(st.PID, "tap1.conf") {
			t.Errorf("adopted openvpn %d survived Stop", st.PID)
		}
		for _, f := range []string{"tap1.pid", "tap1.conf", "tap1.log"} {
			if _, err := os.Stat(filepath.Join(l.gwDir, f)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s after Stop: %v", f, err)
			}
		}
		if _, err := l.gw.Handle.LinkByName("tap1"); err == nil {
			t.Error("tap1 still exists after Stop")
		}
	})

	t.Run("end unclaimed", func(t *testing.T) {
		before := pids(t, hm, "tap1", "tap2")
		hm = l.handOver(t, hm, "hub", "tap1") // tap2 is no longer desired
		if err := hm.EndUnclaimed(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if !processGone(before["tap2"].PID, "tap2.conf") {
			t.Errorf("unclaimed openvpn %d still runs", before["tap2"].PID)
		}
		if st := pids(t, hm, "tap1")["tap1"]; st.PID != before["tap1"].PID {
			t.Errorf("tap1 runs %d, want the adopted %d", st.PID, before["tap1"].PID)
		}
		for f, want := range map[string]bool{"tap2.pid": false, "tap2.conf": false, "tap2.log": false, "tap1.pid": true, "tap1.conf": true} {
			if _, err := os.Stat(filepath.Join(l.hubDir, f)); (err == nil) != want {
				t.Errorf("%s after EndUnclaimed: %v, want present %t", f, err, want)
			}
		}
	})

	t.Run("release ending the processes", func(t *testing.T) {
		st := pids(t, hm, "tap1")["tap1"]
		idx, _ := tapState(t, l.hub, "tap1")
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := hm.Release(ctx, true); err != nil {
			t.Fatal(err)
		}
		if !processGone(st.PID, "tap1.conf") {
			t.Errorf("openvpn %d runs after Release(end)", st.PID)
		}
		if now, _ := tapState(t, l.hub, "tap1"); now != idx {
			t.Errorf("tap1 ifindex %d, was %d: want the TAP kept", now, idx)
		}
		if _, err := os.Stat(filepath.Join(l.hubDir, "tap1.conf")); err != nil {
			t.Errorf("config after Release(end): %v", err)
		}
		if err := hm.Start(ctx, l.specs["hub/tap1"]); err == nil {
			t.Error("Start after Release succeeded")
		}
	})
}

// withMark is s with SO_MARK mark.
func withMark(s Spec, mark uint32) Spec {
	s.Mark = mark
	return s
}
