package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// Load: what the issue defines. A flood is rounds of floodRequests
// GET /v1/client/links at floodConcurrency, repeated for the window.
const (
	floodRequests    = 2000
	floodConcurrency = 200
)

// BenchmarkLoad: healthy links, an API flood on the gateway and one busy
// loop per core for 5 minutes must cause no switch, and a real cut of the
// primary under the same load must still be detected within twice the
// time an unloaded cut took in the same run (docs/reliability.md):
//
//	go test -v -run '^$' -bench Load -benchtime 1x -timeout 30m ./e2e
//
// MULTILINK_LOAD_WINDOW shortens it (e.g. 30s); TestLoad is the 30 s
// version CI runs.
func BenchmarkLoad(b *testing.B) {
	window := 5 * time.Minute
	if w, err := time.ParseDuration(os.Getenv("MULTILINK_LOAD_WINDOW")); err == nil && w > 0 {
		window = w
	}
	loadCase(b, window)
}

// TestLoad is BenchmarkLoad shortened to 30 s, asserting the same.
func TestLoad(t *testing.T) { loadCase(t, 30*time.Second) }

func loadCase(t testing.TB, window time.Duration) {
	nstest.HostOnly(t) // the host's scheduler under load; the lab's emulated CPUs would only measure QEMU
	tp := newTopology(t)
	_, gw := scenario(t, tp, specClientBody(t), "ebpf")
	quiet := detectCut(t, tp, gw)

	stopBusy := busyLoops(t, runtime.NumCPU())
	defer stopBusy()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var codes sync.Map // status code -> *atomic.Int64
	floodDone := make(chan struct{})
	go func() { defer close(floodDone); flood(ctx, gw, &codes) }()

	switches := failovers(t, gw)
	from := time.Now()
	time.Sleep(window)
	to := time.Now()
	loaded := detectCut(t, tp, gw)
	cancel()
	<-floodDone
	stopBusy()
	logEvents(t, gw, from, to)

	// The cut's own switch and its failback are the only ones allowed.
	got := failovers(t, gw) - switches
	falseSwitches := got - 2
	counts := map[int]int64{}
	codes.Range(func(k, v any) bool { counts[k.(int)] = v.(*atomic.Int64).Load(); return true })
	t.Logf("load over %s (%d busy loops, API flood of %d requests at concurrency %d in rounds; answers by status %v): %d false switches; a cut detected in %.0f ms under load, %.0f ms without",
		window, runtime.NumCPU(), floodRequests, floodConcurrency, counts, falseSwitches, loaded, quiet)
	if b, ok := t.(*testing.B); ok {
		b.ReportMetric(float64(falseSwitches), "false-switches")
		b.ReportMetric(loaded, "ms-detect-loaded")
		b.ReportMetric(quiet, "ms-detect-quiet")
	}
	if falseSwitches != 0 {
		t.Errorf("%d switches under load with healthy links (the cut's and its failback excluded)", falseSwitches)
	}
	if bound := 2 * max(quiet, busyDeadMs); loaded > bound {
		t.Errorf("a cut under load was detected in %.0f ms, over %.0f ms: twice max(%.0f ms without load, the %.0f ms idle dead time)", loaded, bound, quiet, busyDeadMs)
	}
}

// busyDeadMs is the dead time of an idle host's active link at the 20 ms
// probe interval (3 intervals): on a busy host the engine waits for that
// time stretched (by 1.5 to 1.8) before a link that lost its probes is
// down, so a cut under load is left within twice it.
const busyDeadMs = 60.0

// detectCut cuts the primary underlay (the hub's u1 down) under a 10 ms
// echo, waits for the switch to tap2, restores it and waits for traffic
// back on tap1; it returns the switch's detection time.
func detectCut(t testing.TB, tp *testbed, gw *daemon) float64 {
	t.Helper()
	// Traffic on the bond, as when a cut matters: an idle link is probed
	// every 500 ms and left in 1.5 s (BenchmarkIdle prices that apart).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runEcho(t, ctx, tp.gw, topology.HubTunnel)
	time.Sleep(time.Second) // the active link probed at its fast rate again
	cut := time.Now()
	setLink(t, tp.hub, "u1", false)
	waitActive(t, gw, "tap2", 30*time.Second)
	var det float64
	waitFor(t, 5*time.Second, 100*time.Millisecond, func() bool {
		var events []api.Event
		if code := gw.callAuth(http.MethodGet, "/v1/client/events?bond=bond0", nil, &events, false); code != http.StatusOK {
			return false
		}
		for _, e := range events {
			if e.Kind == api.EventSwitch && !e.At.Before(cut) && e.To == "tap2" && e.DetectionMs != nil {
				det = *e.DetectionMs
				return true
			}
		}
		return false
	})
	setLink(t, tp.hub, "u1", true)
	waitActive(t, gw, "tap1", 60*time.Second)
	return det
}

// busyLoops starts n processes spinning at normal priority; the returned
// func ends them (also at the test's end).
func busyLoops(t testing.TB, n int) func() {
	var cmds []*exec.Cmd
	for range n {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			for _, c := range cmds {
				_ = c.Process.Kill()
				_ = c.Wait()
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// flood sends rounds of floodRequests GET /v1/client/links (no token:
// reads are open) at floodConcurrency until ctx ends, counting answers
// by status (0: no answer).
func flood(ctx context.Context, gw *daemon, codes *sync.Map) {
	for ctx.Err() == nil {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range floodConcurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= floodRequests && ctx.Err() == nil {
					code, _, _ := gw.Do(ctx, http.MethodGet, "/v1/client/links", nil, false)
					n, _ := codes.LoadOrStore(code, new(atomic.Int64))
					n.(*atomic.Int64).Add(1)
				}
			}()
		}
		wg.Wait()
	}
}

// logEvents logs bond0's engine events between from and to: what a
// false switch was (its reason and detail) and the link states before it.
func logEvents(t testing.TB, gw *daemon, from, to time.Time) {
	t.Helper()
	for _, e := range events(t, gw, from, to) {
		if e.Kind == api.EventSwitch {
			t.Logf("%s switch %s -> %s: %s (%s)", e.At.Sub(from).Round(time.Millisecond), e.From, e.To, e.Reason, e.Detail)
			continue
		}
		t.Logf("%s %s %s: %s", e.At.Sub(from).Round(time.Millisecond), e.Link, e.State, e.Detail)
	}
}

// failovers is the number of switches bond0's engine has made.
func failovers(t testing.TB, gw *daemon) int {
	t.Helper()
	var st api.PolicyStatus
	if code := gw.callAuth(http.MethodGet, "/v1/client/policy/bond0", nil, &st, false); code != http.StatusOK {
		t.Fatalf("policy: %d", code)
	}
	n := 0
	for _, c := range st.Failovers {
		n += int(c)
	}
	return n
}
