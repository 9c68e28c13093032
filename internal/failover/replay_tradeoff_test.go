package failover

import (
	"flag"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

var replaySetups = flag.String("replay.setups", "", "TestReplayTradeoff: only the setups whose name matches this regexp")

// tradeoffSetups are the alternatives to DefaultPolicy that
// TestReplayTradeoff replays: each changes a few fields (or the probe's
// active interval), everything else as DefaultPolicy.
func tradeoffSetups() []setup {
	with := func(name string, iv time.Duration, change func(*Policy)) setup {
		p := DefaultPolicy()
		change(&p)
		return setup{name: name, policy: p, interval: iv}
	}
	return []setup{
		with("DefaultPolicy", 0, func(*Policy) {}),
		with("loss 20 % (recover 10 %)", 0, func(p *Policy) { p.LossDegraded, p.LossRecovered = 0.2, 0.1 }),
		with("loss 25 % (recover 12 %)", 0, func(p *Policy) { p.LossDegraded, p.LossRecovered = 0.25, 0.12 }),
		with("min loss samples 50", 0, func(p *Policy) { p.MinLossSamples = 50 }),
		with("dead 5 intervals", 0, func(p *Policy) { p.DeadProbes = 5 }),
		with("dead 8 intervals", 0, func(p *Policy) { p.DeadProbes = 8 }),
		with("dead 10 intervals", 0, func(p *Policy) { p.DeadProbes = 10 }),
		with("RTT 2x / +100 ms (recover 1.5x / +60 ms)", 0, func(p *Policy) {
			p.RTTFactor, p.RTTMargin, p.RecoverRTTFactor, p.RecoverRTTMargin = 2, 100*time.Millisecond, 1.5, 60*time.Millisecond
		}),
		with("hold-down 10 s", 0, func(p *Policy) { p.HoldDown = 10 * time.Second }),
		with("dead 5, loss 20 %", 0, func(p *Policy) { p.DeadProbes, p.LossDegraded, p.LossRecovered = 5, 0.2, 0.1 }),
		with("dead 6, loss 15 %", 0, func(p *Policy) { p.DeadProbes, p.LossDegraded, p.LossRecovered = 6, 0.15, 0.07 }),
		with("dead 6, loss 20 %", 0, func(p *Policy) { p.DeadProbes, p.LossDegraded, p.LossRecovered = 6, 0.2, 0.1 }),
		with("dead 6, loss 25 %", 0, func(p *Policy) { p.DeadProbes, p.LossDegraded, p.LossRecovered = 6, 0.25, 0.12 }),
		with("dead 8, loss 20 %", 0, func(p *Policy) { p.DeadProbes, p.LossDegraded, p.LossRecovered = 8, 0.2, 0.1 }),
		with("dead 8, loss 25 %", 0, func(p *Policy) { p.DeadProbes, p.LossDegraded, p.LossRecovered = 8, 0.25, 0.12 }),
		with("dead 10, loss 25 %", 0, func(p *Policy) { p.DeadProbes, p.LossDegraded, p.LossRecovered = 10, 0.25, 0.12 }),
		with("probes every 10 ms, dead 16, loss 25 %", 10*time.Millisecond, func(p *Policy) {
			p.DeadProbes, p.LossDegraded, p.LossRecovered = 16, 0.25, 0.12
		}),
		with("probes every 10 ms, DefaultPolicy", 10*time.Millisecond, func(*Policy) {}),
		with("probes every 5 ms, DefaultPolicy", 5*time.Millisecond, func(*Policy) {}),
		with("probes every 5 ms, dead 12, loss 20 %", 5*time.Millisecond, func(p *Policy) {
			p.DeadProbes, p.LossDegraded, p.LossRecovered = 12, 0.2, 0.1
		}),
		with("probes every 5 ms, dead 20, loss 25 %", 5*time.Millisecond, func(p *Policy) {
			p.DeadProbes, p.LossDegraded, p.LossRecovered = 20, 0.25, 0.12
		}),
	}
}

// TestReplayTradeoff replays the jittery calm primaries and the escapes
// with each of tradeoffSetups and logs one row per setup: false switches
// against speed. It only runs with -replay.tradeoff (it takes a while).
func TestReplayTradeoff(t *testing.T) {
	if !*replayTradeoff {
		t.Skip("run with -args -replay.tradeoff")
	}
	only, err := regexp.Compile(*replaySetups)
	if err != nil {
		t.Fatalf("-replay.setups: %v", err)
	}
	dur, runs := replayScale()
	start := time.Now()
	var rows strings.Builder
	for _, u := range tradeoffSetups() {
		if !only.MatchString(u.name) {
			continue
		}
		if err := u.policy.Check(); err != nil {
			t.Fatalf("%s: %v", u.name, err)
		}
		rows.WriteString(replay(u, calmCases[1:4], summaryEscapes, dur, runs).summary(u))
		t.Logf("%s done after %s", u.name, time.Since(start).Round(time.Second))
	}
	t.Logf("replayed %s of each calm primary, %d runs per escape, in %s on %d CPUs\n%s%s",
		fmtDur(dur), runs, time.Since(start).Round(time.Second), runtime.GOMAXPROCS(0), summaryHeader(), rows.String())
}
