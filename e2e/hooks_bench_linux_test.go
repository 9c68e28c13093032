package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/demo"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/pressure"
	"github.com/multilink/multilink/internal/topology"
)

// hookBlocksEnv sets how many blocks of hookCutsPerBlock cuts
// BenchmarkHangingHooks runs, the arms taking turns (default 8).
const hookBlocksEnv = "MULTILINK_BENCH_HOOK_BLOCKS"

const hookCutsPerBlock = 2

// hookArm is one way of running the gateway's daemon in the benchmark.
type hookArm struct {
	name  string
	extra []string // daemon flags
	cuts  hookFigures
}

// hookFigures are one arm's measurements, one per cut.
type hookFigures struct {
	gwHub, hubGw, detection []float64
	deadTime                []float64 // the engine's dead time at the switch (its event's detail)
	busy                    []float64 // the host's CPU pressure around the cut, percent
	skipped                 int       // cuts not counted: the bond had left tap1 before
}

// BenchmarkHangingHooks measures whether hooks that hang slow failover:
// the eBPF bond's cut figures (blackout each way, the engine's detection
// time) with no hook against the same with two hooks that hang (a webhook
// that never answers, a program that sleeps past its timeout, 1 s each,
// 3 retries, so both are busy with every event), in blocks of 2 cuts
// that take turns (no hook, hanging, no hook, ...), the gateway's daemon
// restarted with the other config between blocks. Host only:
//
//	make build && MULTILINK_BIN=$PWD/bin/multilink go test -count=1 -run '^$' -bench HangingHooks -benchtime 1x -v ./e2e
func BenchmarkHangingHooks(b *testing.B) {
	nstest.HostOnly(b)
	blocks := 8
	if s := os.Getenv(hookBlocksEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 {
			b.Fatalf("%s=%q: want a number of blocks, 2 or more", hookBlocksEnv, s)
		}
		blocks = n
	}
	tp, links, kind := newBenchTopology(b)
	b.Logf("BENCH hooks underlays: %s", kind)
	sink := startHookSink(b, tp.gw, true)
	sleeper := writeFile(b, "hang", "#!/bin/sh\nexec sleep 3600\n", 0o755)
	hang := writeFile(b, "hang.yaml", fmt.Sprintf(`hooks:
  - name: web
    webhook: {url: %q}
    timeout_ms: 1000
    retries: 3
  - name: prog
    exec: [%q]
    timeout_ms: 1000
    retries: 3
`, sink.URL, sleeper), 0o600)
	arms := []*hookArm{{name: "none"}, {name: "hang", extra: []string{"--config", hang}}}

	_, gw := scenario(b, tp, specClientBody(b), "ebpf")
	up, down := echoes(b, tp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The engine stretches its dead times on a busy host (CPU pressure of
	// 25 % and more): each cut's pressure is logged with its figures.
	cpu, err := pressure.NewCPU("")
	must(b, err)
	go cpu.Run(ctx)

	primary := links[0]
	for block := 0; block < blocks; block++ {
		arm := arms[block%len(arms)]
		b.Logf("block %d: %s", block, arm.name)
		if block > 0 {
			must(b, gw.stop())
			gw = startDaemonIn(b, tp.gw, "127.0.0.1:"+topology.APIPort, testToken, gw.stateDir, append([]string{"--bond-driver", "ebpf"}, arm.extra...)...)
			waitActive(b, gw, "tap1", 60*time.Second)
			waitSettled(b, gw)
		}
		for i, tries := 0, 0; i < hookCutsPerBlock; tries++ {
			if tries == 2*hookCutsPerBlock {
				b.Fatalf("block %d (%s): %d cuts of %d measured in %d tries", block, arm.name, i, hookCutsPerBlock, tries)
			}
			if hookCut(b, gw, primary, up, down, cpu, &arm.cuts) {
				i++
			}
		}
		if arm.name == "hang" {
			requireHooksBusy(b, gw)
		}
	}
	base, hung := arms[0].cuts, arms[1].cuts
	b.Logf("BENCH hooks cuts: %d with no hook, %d with hanging hooks; not counted (the bond had left tap1 before the cut): %d and %d",
		len(base.detection), len(hung.detection), base.skipped, hung.skipped)
	for _, f := range []struct {
		what, unit string
		none, hng  []float64
	}{
		{"gw->hub blackout_ms", "ratio-blackout-gw-hub", base.gwHub, hung.gwHub},
		{"hub->gw blackout_ms", "ratio-blackout-hub-gw", base.hubGw, hung.hubGw},
		{"detection_ms", "ratio-detection", base.detection, hung.detection},
		{"dead time_ms (the engine's, at the switch)", "ratio-dead-time", base.deadTime, hung.deadTime},
		{"detection beyond the dead time_ms", "ratio-beyond-dead-time", beyond(base), beyond(hung)},
		{"host CPU pressure_pct around the cut", "ratio-cpu-pressure", base.busy, hung.busy},
	} {
		ratio := median(f.hng) / median(f.none)
		b.Logf("BENCH hooks cut %s: none=%v median=%.1f | hanging hooks=%v median=%.1f | ratio of medians %.2f (none's range %.1f-%.1f)",
			f.what, tenths(f.none), median(f.none), tenths(f.hng), median(f.hng), ratio, minOf(f.none), maxOf(f.none))
		b.ReportMetric(ratio, f.unit)
	}
}

// hookCut cuts the primary on a settled bond and adds the figures to f;
// false (nothing added) when the bond had left tap1 before the cut (the
// userspace underlay loses a burst now and then on a busy host).
func hookCut(b *testing.B, gw *daemon, primary underlay, up, down *demo.Prober, cpu *pressure.CPU, f *hookFigures) bool {
	waitSettled(b, gw)
	waitFlowing(b, up)
	waitFlowing(b, down)
	cut := time.Now()
	busy := cpu.Waiting()
	must(b, primary.Cut(true))
	waitActive(b, gw, "tap2", 30*time.Second)
	busy = max(busy, cpu.Waiting())
	waitFlowingAfter(b, up, cut)
	waitFlowingAfter(b, down, cut)
	gwHub, hubGw := ms(up.GapAround(cut.Add(-time.Second), time.Now())), ms(down.GapAround(cut.Add(-time.Second), time.Now()))
	detection, dead, ok := detectionAfter(b, gw, cut)
	must(b, primary.Cut(false))
	waitActive(b, gw, "tap1", 60*time.Second)
	time.Sleep(2 * time.Second)
	if !ok {
		f.skipped++
		b.Logf("cut at %s not counted: no switch away from tap1 after it (the bond had left it before)", cut.Format(time.RFC3339Nano))
		return false
	}
	f.gwHub, f.hubGw, f.detection = append(f.gwHub, gwHub), append(f.hubGw, hubGw), append(f.detection, detection)
	f.deadTime, f.busy = append(f.deadTime, dead), append(f.busy, 100*busy)
	b.Logf("cut: blackout %.0f/%.0f ms, detection %.0f ms, dead time %.0f ms, CPU pressure %.0f%%", gwHub, hubGw, detection, dead, 100*busy)
	return true
}

// deadTimeIn finds the dead time in a switch's detail ("4 probes lost in
// a row (no reply for 62ms, dead time 60ms)", "no reply for 122ms (dead
// time 102.9ms)").
var deadTimeIn = regexp.MustCompile(`dead time ([0-9.]+)ms`)

// detectionAfter is the detection time of the engine's first switch
// away from tap1 after cut (bounded wait: the event follows the bond),
// and the dead time it applied.
func detectionAfter(t testing.TB, gw *daemon, cut time.Time) (detection, dead float64, ok bool) {
	t.Helper()
	var found *float64
	waitFor(t, 5*time.Second, 50*time.Millisecond, func() bool {
		var events []api.Event
		if code := gw.call(http.MethodGet, "/v1/client/events?bond=bond0", nil, &events); code != http.StatusOK {
			t.Fatalf("events: %d", code)
		}
		for _, e := range events {
			if e.Kind == api.EventSwitch && e.From == "tap1" && !e.At.Before(cut) && e.DetectionMs != nil {
				found = e.DetectionMs
				if m := deadTimeIn.FindStringSubmatch(e.Detail); m != nil {
					dead, _ = strconv.ParseFloat(m[1], 64)
				}
				return true
			}
		}
		return false
	})
	if found == nil {
		return 0, 0, false
	}
	return *found, dead, true
}

// requireHooksBusy checks the hanging arm measured what it claims: both
// hooks had events and failed or retried them.
func requireHooksBusy(t testing.TB, gw *daemon) {
	t.Helper()
	m := scrape(t, gw)
	for _, hook := range []string{"web", "prog"} {
		retries := metricValue(t, m, `multilink_hook_retries_total{hook="`+hook+`"}`)
		if retries < 1 {
			t.Fatalf("hook %s: %v retries: it did not hang on the cuts' events", hook, retries)
		}
		t.Logf("hook %s: %v retries, %v failed, %v dropped, %v queued", hook, retries,
			metricValue(t, m, `multilink_hook_deliveries_total{hook="`+hook+`",result="failed"}`),
			metricValue(t, m, `multilink_hook_deliveries_total{hook="`+hook+`",result="dropped"}`),
			metricValue(t, m, `multilink_hook_queue_length{hook="`+hook+`"}`))
	}
}

// beyond is each cut's detection time past the dead time the engine
// applied: how late the engine acted on its own threshold, whatever the
// host's load made that threshold.
func beyond(f hookFigures) []float64 {
	out := make([]float64, len(f.detection))
	for i := range f.detection {
		out[i] = f.detection[i] - f.deadTime[i]
	}
	return out
}

// tenths is v sorted, to 0.1.
func tenths(v []float64) []float64 {
	s := slices.Sorted(slices.Values(v))
	for i := range s {
		s[i] = math.Round(s[i]*10) / 10
	}
	return s
}

func minOf(v []float64) float64 { return slices.Min(v) }
func maxOf(v []float64) float64 { return slices.Max(v) }
