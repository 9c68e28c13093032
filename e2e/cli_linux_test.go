package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/statusview"
	"github.com/multilink/multilink/internal/topology"
)

// cli runs `multilink args...` in ns and returns its stdout; a failure
// fails the test with its stderr.
func cli(t *testing.T, ns *nstest.NS, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := ns.Command(ctx, buildBinary(t), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("multilink %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// lines starts `multilink args...` in ns and returns its stdout's lines as
// they come; it ends with the test.
func lines(t *testing.T, ns *nstest.NS, args ...string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := ns.Command(ctx, buildBinary(t), args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 256)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<16), 1<<22)
		for sc.Scan() {
			ch <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("multilink %s stderr:\n%s", strings.Join(args, " "), stderr.String())
		}
	})
	return ch
}

// TestCLI: status, events -f and watch against a real hub and gateway:
// the local daemon found through its state dir, a remote one by URL and
// pin; the screen names the active link and the links' state; a cut of
// the primary shows up in events -f within 4 s (an idle link's dead time
// with room), with its reason.
func TestCLI(t *testing.T) {
	nstest.HostOnly(t) // the API and its reader; the lab's time goes to the kernel bond
	tp := newTopology(t)
	hub, gw := scenario(t, tp, specClientBody(t), "ebpf")

	screen := cli(t, tp.gw, "status", "--state-dir", gw.stateDir)
	for _, want := range []string{"gateway bond bond0", "driver ebpf", "active tap1", "tap1 *", "tap2 "} {
		if !strings.Contains(screen, want) {
			t.Errorf("gateway status lacks %q:\n%s", want, screen)
		}
	}
	var snap statusview.Snapshot
	if err := json.Unmarshal([]byte(cli(t, tp.gw, "status", "--json", "--state-dir", gw.stateDir)), &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Bonds) != 1 || snap.Bonds[0].Failover == nil || snap.Bonds[0].Failover.Active != "tap1" || len(snap.Bonds[0].Links) != 2 ||
		snap.Bonds[0].Links[0].State != api.LinkUp || snap.Bonds[0].Links[0].RTTMs == nil {
		t.Errorf("status --json: %+v", snap)
	}
	hubScreen := cli(t, tp.hub, "status", "--state-dir", hub.stateDir)
	for _, want := range []string{"hub bridge br0", "held by gateway", "tap1", "running"} {
		if !strings.Contains(hubScreen, want) {
			t.Errorf("hub status lacks %q:\n%s", want, hubScreen)
		}
	}
	pin, err := hub.Pin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	remote := cli(t, tp.gw, "status", "--url", "https://"+topology.HubU1+":"+topology.APIPort, "--pin", pin)
	if !strings.Contains(remote, "hub bridge br0") {
		t.Errorf("the hub's status read from the gateway by URL and pin:\n%s", remote)
	}

	followed := lines(t, tp.gw, "events", "-f", "--json", "--state-dir", gw.stateDir)
	snaps := lines(t, tp.gw, "watch", "--json", "--every", "200ms", "--state-dir", gw.stateDir)
	time.Sleep(time.Second) // both connected
	cut := time.Now()
	setLink(t, tp.hub, "u1", false)
	var sw api.Event
	var printed []string
	// An idle active link (nothing but the probe on it) is probed every
	// 500 ms and left within its dead time, 3 of those intervals: 2 s,
	// with room for a busy host's stretched dead times.
	deadline := time.After(4 * time.Second)
	for sw.To != "tap2" {
		select {
		case l, ok := <-followed:
			if !ok {
				t.Fatalf("events -f ended; it printed:\n%s", strings.Join(printed, "\n"))
			}
			printed = append(printed, l)
			var e api.Event
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("events -f --json printed %q: %v", l, err)
			}
			if e.Kind == api.EventSwitch && e.At.After(cut) {
				sw = e
			}
		case <-deadline:
			t.Fatalf("no switch to tap2 from events -f within 4 s of the cut; it printed:\n%s\ngateway events: %+v", strings.Join(printed, "\n"), events(t, gw, cut, time.Now()))
		}
	}
	t.Logf("events -f printed the switch %s after the cut: %+v", time.Since(cut).Round(time.Millisecond), sw)
	if sw.From != "tap1" || sw.Reason != "down" || sw.DetectionMs == nil {
		t.Errorf("switch %+v, want tap1 -> tap2, down, with its detection time", sw)
	}
	seen := false
	for end := time.After(5 * time.Second); !seen; {
		select {
		case l := <-snaps:
			var s statusview.Snapshot
			if err := json.Unmarshal([]byte(l), &s); err != nil {
				t.Fatalf("watch --json printed %q: %v", l, err)
			}
			seen = len(s.Bonds) == 1 && s.Bonds[0].Failover != nil && s.Bonds[0].Failover.Active == "tap2"
		case <-end:
			t.Fatal("watch --json never showed tap2 active")
		}
	}
	setLink(t, tp.hub, "u1", true)
	waitActive(t, gw, "tap1", 60*time.Second)
	plain := cli(t, tp.gw, "events", "--state-dir", gw.stateDir)
	if !strings.Contains(plain, "switch  tap1 -> tap2 (down, detected in") || !strings.Contains(plain, "switch  tap2 -> tap1 (failback") {
		t.Errorf("events lacks the switch and its failback:\n%s", plain)
	}

	// A stopped daemon takes its endpoint away: the command line says so.
	if err := gw.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(gw.stateDir, "api.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("api.json after the daemon stopped: %v", err)
	}
	cmd := tp.gw.Command(context.Background(), buildBinary(t), "status", "--state-dir", gw.stateDir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "no multilink daemon runs with this state dir") {
		t.Errorf("status of a stopped daemon: %v %q, want exit 1 saying no daemon runs", err, out)
	}
}
