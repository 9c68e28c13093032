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
// probed every 20 ms, never idle), for calmWindow each from calmOnset
// after the impairment starts; every switch the engine makes away from
// the primary in the window is a false one. It logs them with their
// reason and signal, and the rate per day, and apart the switches of the
// onset (the step from a clean link):
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
		set := time.Now()
		must(b, primary.Set(im, im))
		// The step from a clean link to this one is a change the engine
		// may answer (replies 0.7 ms apart, then 0-60 ms late: the reply
		// timeout of the clean link's RTT counts them lost); the goal is a
		// primary that is like this, so the window starts once the link's
		// figures have had calmOnset to learn it, and what the onset did
		// is logged apart.
		time.Sleep(calmOnset)
		waitActive(b, gw, "tap1", 60*time.Second)
		start := time.Now()
		onset, onsetWhy := leftPrimary(b, gw, set, start)
		time.Sleep(window)
		left, reasons := leftPrimary(b, gw, start, time.Now())
		must(b, primary.Set(impairment.Impairment{}, impairment.Impairment{}))
		l1, s1 := up.Lost(start, start.Add(window))
		perDay := float64(left) * float64(24*time.Hour) / float64(window)
		b.Logf("BENCH calm %s (each way), %s: left the primary %d times (%.1f a day) %s; echo gw->hub lost %d of %d; on the onset (the %s before): left %d times %s",
			name, window, left, perDay, reasons, l1, s1, calmOnset, onset, onsetWhy)
		b.ReportMetric(perDay, fmt.Sprintf("left-per-day-loss%.0f", loss*100))
	}
}

// calmOnset is how long the calm primary's impairment runs before its
// window: the probe's largest-RTT window (10 s) and a margin.
const calmOnset = 15 * time.Second

// benchDriver is the bond the host has: the kernel's where it has the
// bonding driver, else the eBPF bond.
func benchDriver(t testing.TB, tp *testbed) string {
	t.Helper()
	if hasBonding(tp.gw) {
		return "kernel"
	}
	return "ebpf"
}

// leftPrimary counts the engine's switches away from tap1 from since until
// until, with when (from since), their reasons and signals.
func leftPrimary(t testing.TB, gw *daemon, since, until time.Time) (int, string) {
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
		if e.Kind == "switch" && e.From == "tap1" && !e.At.Before(since) && e.At.Before(until) {
			n++
			what = append(what, fmt.Sprintf("+%s %s/%s (%s)", e.At.Sub(since).Round(time.Millisecond), e.Reason, e.Signal, e.Detail))
		}
	}
	return n, "[" + strings.Join(what, "; ") + "]"
}
