package e2e

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/impairment"
)

// calmWindowEnv sets how long each calm primary is watched (default
// calmWindow, issue 30's live run).
const (
	calmWindowEnv = "MULTILINK_CALM_WINDOW"
	calmWindow    = 10 * time.Minute
)

// BenchmarkCalm is issue 30's live false-switch run: the primary's
// underlay loses 1 % (then 3 %) of frames each way at random and delays
// each by 10 ms ± 20 ms (uniform), the standby is clean, a 10 ms echo
// runs each way over the bond (the active link carries data, so it is
// probed every 20 ms, never idle), for calmWindow each; every switch the
// engine makes away from the primary is a false one. It logs them with
// their reason and signal, and the rate per day:
//
//	make build && MULTILINK_BIN=$PWD/bin/multilink go test -count=1 -run '^$' -bench Calm -benchtime 1x -timeout 60m -v ./e2e
//
// The underlays are netem where the kernel has it (the lab) and the
// userspace emulator elsewhere (this host), as in BenchmarkFailover.
func BenchmarkCalm(b *testing.B) {
	window := calmWindow
	if s := os.Getenv(calmWindowEnv); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second || d > 24*time.Hour {
			b.Fatalf("%s=%q: want a duration from 1s to 24h", calmWindowEnv, s)
		}
		window = d
	}
	tp, links, kind := newBenchTopology(b)
	b.Logf("BENCH calm underlays: %s", kind)
	_, gw := scenarioWith(b, tp, specServerBody(b), specClientBody(b), benchDriver(b, tp))
	waitSettled(b, gw)
	up, _ := echoes(b, tp)
	primary := links[0]
	for _, loss := range []float64{0.01, 0.03} {
		name := fmt.Sprintf("%.0f%% loss, 20 ms jitter", loss*100)
		im := impairment.Impairment{Delay: 10 * time.Millisecond, Jitter: 20 * time.Millisecond, Loss: loss}
		must(b, primary.Set(im, im))
		waitActive(b, gw, "tap1", 60*time.Second)
		start := time.Now()
		time.Sleep(window)
		left, reasons := leftPrimary(b, gw, start)
		must(b, primary.Set(impairment.Impairment{}, impairment.Impairment{}))
		l1, s1 := up.Lost(start, start.Add(window))
		perDay := float64(left) * float64(24*time.Hour) / float64(window)
		b.Logf("BENCH calm %s (each way), %s: left the primary %d times (%.1f a day) %s; echo gw->hub lost %d of %d",
			name, window, left, perDay, reasons, l1, s1)
		b.ReportMetric(perDay, fmt.Sprintf("left-per-day-loss%.0f", loss*100))
	}
}

// benchDriver is the bond the host has: the kernel's where it has the
// bonding driver, else the eBPF bond.
func benchDriver(t testing.TB, tp *testbed) string {
	t.Helper()
	if hasBonding(tp.gw) {
		return "kernel"
	}
	return "ebpf"
}

// leftPrimary counts the engine's switches away from tap1 since start,
// with their reasons and signals.
func leftPrimary(t testing.TB, gw *daemon, since time.Time) (int, string) {
	t.Helper()
	var events []struct {
		At     time.Time `json:"at"`
		Kind   string    `json:"kind"`
		From   string    `json:"from"`
		Reason string    `json:"reason"`
		Signal string    `json:"signal"`
		Detail string    `json:"detail"`
	}
	if code := gw.call(http.MethodGet, "/v1/client/events?bond=bond0", nil, &events); code != http.StatusOK {
		t.Fatalf("events: HTTP %d", code)
	}
	n, what := 0, []string{}
	for _, e := range events {
		if e.Kind == "switch" && e.From == "tap1" && !e.At.Before(since) {
			n++
			what = append(what, fmt.Sprintf("%s/%s (%s)", e.Reason, e.Signal, e.Detail))
		}
	}
	return n, "[" + strings.Join(what, "; ") + "]"
}
