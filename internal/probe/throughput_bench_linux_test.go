package probe

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/nstest"
)

// BenchmarkProbeThroughput measures the tunnel's throughput with and
// without the probe: iperf3 TCP over one real OpenVPN TAP tunnel (gateway
// tap1 to the hub's bridge) in rounds of two runs, one without a program
// and one with the probe as the daemon runs it (programs, prober at the
// active link's 20 ms, ring reader), in an order that alternates each
// round (a drift favours neither), with the kernel's BPF statistics off.
// With MULTILINK_BENCH_SPLIT=1 a round has two more runs, which split the
// probe's cost: the prober at one probe a second (the same programs in the
// same traffic, a fiftieth of the daemon's ticks) and the prober ticking
// at 20 ms but sending no probe (the ticks without their frames).
//
// The rounds run in several worlds, one after the other, each built anew
// (namespaces, OpenVPN processes, their CPU pinning) and torn down before
// the next: two single-world runs of the same code once differed by more
// than either's interval allowed (docs), so a world's rounds are not
// independent of it. The figures are, over all rounds, the medians of the
// rounds' ratios with their distribution-free 95 % intervals and their
// means with their t intervals, and, between worlds, the mean of the
// worlds' mean ratios with the t interval over them: the one that counts,
// since it holds the worlds' spread. MULTILINK_BENCH_WORLDS (default 12)
// and MULTILINK_BENCH_ROUNDS (rounds per world, default 30) set the sizes;
// at the defaults it takes about an hour. docs/benchmarks.md has the
// figures:
//
//	go test -v -run '^$' -bench ProbeThroughput -benchtime 1x -timeout 90m ./probe
func BenchmarkProbeThroughput(b *testing.B) {
	worlds, rounds := benchCount(b, worldsEnv, 12, 2), benchCount(b, roundsEnv, 30, 2)
	nstest.RequireAdmin(b)
	nstest.RequireCommand(b, "openvpn")
	nstest.RequireCommand(b, "iperf3")
	arms := []throughputArm{{"probe", "", Options{}}}
	split := false
	switch v := os.Getenv(splitEnv); v {
	case "", "0":
	case "1":
		split = true
	default:
		b.Fatalf("%s=%q: want 1 (the split arms) or 0", splitEnv, v)
	}
	if split {
		arms = append(arms,
			throughputArm{"probe at one probe a second", "-1s", Options{Interval: sparseEvery}},
			throughputArm{"prober at 20 ms sending nothing", "-noframes", Options{noFrames: true}})
	}
	var all []throughputRound
	means := make([][]float64, len(arms)) // per arm, the worlds' mean ratios
	var attach string
	for i := range worlds {
		ok := b.Run(fmt.Sprintf("world-%d", i+1), func(b *testing.B) {
			got, at := throughputWorld(b, arms, rounds, i*rounds)
			all, attach = append(all, got...), at
			for a := range arms {
				means[a] = append(means[a], meanOf(ratios(got, a)))
			}
		})
		if !ok {
			return
		}
	}
	if len(all) < worlds*rounds { // a world was skipped
		b.Skipf("%d of %d worlds ran", len(all)/rounds, worlds)
	}
	none := make([]float64, len(all))
	for i, r := range all {
		none[i] = r.none
	}
	b.Logf("BENCH probe throughput (%s, kernel %s), iperf3 TCP over one tunnel, %d worlds of %d rounds, Mbit/s received, median [quartiles]: no program %.0f [%s]",
		attach, kernel(b), worlds, rounds, median(none), quartiles(none))
	for a, arm := range arms {
		with := make([]float64, len(all))
		for i, r := range all {
			with[i] = r.with[a]
		}
		b.Logf("BENCH probe throughput, %s: %.0f [%s] Mbit/s", arm.name, median(with), quartiles(with))
	}
	for a, arm := range arms {
		v := ratios(all, a)
		lo, hi := medianCI(v)
		mean, half := meanCI(v)
		b.Logf("BENCH probe throughput ratio %s / no program, all rounds: median %.3f [quartiles %s], 95 %% interval %.3f .. %.3f; mean %.3f (standard deviation %.3f), 95 %% interval %.3f .. %.3f",
			arm.name, median(v), quartiles(v), lo, hi, mean, stddev(v), mean-half, mean+half)
		wm, wh := meanCI(means[a])
		b.Logf("BENCH probe throughput ratio %s / no program, between worlds: mean %.3f (standard deviation %.3f), 95 %% interval %.3f .. %.3f (worlds' means %s)",
			arm.name, wm, stddev(means[a]), wm-wh, wm+wh, listOf(means[a]))
	}
	if !split {
		return
	}
	frames := make([]float64, len(all)) // the probe frames' share: probe over the prober sending nothing
	for i, r := range all {
		frames[i] = r.with[0] / r.with[2]
	}
	lo, hi := medianCI(frames)
	mean, half := meanCI(frames)
	b.Logf("BENCH probe throughput ratio probe / prober at 20 ms sending nothing, all rounds: median %.3f, 95 %% interval %.3f .. %.3f; mean %.3f, 95 %% interval %.3f .. %.3f",
		median(frames), lo, hi, mean, mean-half, mean+half)
}

// The environment variables that shape BenchmarkProbeThroughput.
const (
	worldsEnv = "MULTILINK_BENCH_WORLDS"
	roundsEnv = "MULTILINK_BENCH_ROUNDS"
	splitEnv  = "MULTILINK_BENCH_SPLIT"
)

// throughputArm is one way of running the probe beside the run without a
// program: its name in the logs, the suffix of its metrics, its options.
type throughputArm struct {
	name, unit string
	opts       Options
}

// throughputRound is one round's rates in Mbit/s: without a program and
// with each arm.
type throughputRound struct {
	none float64
	with []float64
}

// throughputWorld builds a world, runs a warm-up and then rounds rounds in
// it (the arms' order rotating from round first on) and reports the
// world's mean ratios as its metrics. It returns the rounds and the
// probe's attach mode; the world is torn down when b ends.
func throughputWorld(b *testing.B, arms []throughputArm, rounds, first int) ([]throughputRound, string) {
	w, cpus := iperfWorld(b)
	iperf(b, w, cpus) // a warm-up: the first runs were 10-15 % slower in every arm
	var attach string
	out := make([]throughputRound, rounds)
	for i := range out {
		r := make([]float64, 1+len(arms))
		for k := range r {
			arm := (first + i + k) % len(r)
			if arm == 0 {
				r[0] = iperf(b, w, cpus)
				continue
			}
			m := probeTap1(b, w, arms[arm-1].opts)
			r[arm] = iperf(b, w, cpus)
			attach = m.Links()[0].Attach
			m.Close()
		}
		out[i] = throughputRound{none: r[0], with: r[1:]}
	}
	for a, arm := range arms {
		mean, half := meanCI(ratios(out, a))
		b.Logf("BENCH probe throughput ratio %s / no program, this world's %d rounds: mean %.3f, 95 %% interval %.3f .. %.3f",
			arm.name, rounds, mean, mean-half, mean+half)
		b.ReportMetric(mean, "throughput-ratio"+arm.unit)
	}
	return out, attach
}

// ratios is arm a's ratio to the run without a program, round by round.
func ratios(rounds []throughputRound, a int) []float64 {
	v := make([]float64, len(rounds))
	for i, r := range rounds {
		v[i] = r.with[a] / r.none
	}
	return v
}

// benchCount reads a count of at least least from the environment
// variable name, def where it is unset; anything else fails b.
func benchCount(b *testing.B, name string, def, least int) int {
	b.Helper()
	s, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < least {
		b.Fatalf("%s=%q: want a whole number from %d on", name, s, least)
	}
	return n
}

// listOf prints v's values to three places.
func listOf(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.3f", x)
	}
	return strings.Join(s, ", ")
}

// meanCI is v's mean and the half width of its 95 % t interval: the t
// quantile from a table up to 30 degrees of freedom, beyond from its
// Cornish-Fisher expansion in them (within 0.1 % of the tables there).
// It needs two values or more.
func meanCI(v []float64) (mean, half float64) {
	n := len(v)
	return meanOf(v), tQuantile(n-1) * stddev(v) / math.Sqrt(float64(n))
}

// tQuantile is Student's t distribution's 97.5 % quantile for df degrees
// of freedom.
func tQuantile(df int) float64 {
	t975 := [...]float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	if df >= 1 && df <= len(t975) {
		return t975[df-1]
	}
	const z = 1.959964
	d := float64(df)
	return z + (z*z*z+z)/(4*d) + (5*math.Pow(z, 5)+16*z*z*z+3*z)/(96*d*d)
}

func meanOf(v []float64) float64 {
	var sum float64
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// stddev is v's sample standard deviation.
func stddev(v []float64) float64 {
	mean := meanOf(v)
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss / float64(len(v)-1))
}

// TestMeanCI checks meanCI against a t table: 1..10 have mean 5.5 and
// standard error 0.9574, t(9) at 97.5 % is 2.262; and tQuantile beyond
// the table.
func TestMeanCI(t *testing.T) {
	v := []float64{3, 1, 2, 10, 4, 5, 9, 6, 8, 7}
	mean, half := meanCI(v)
	if want := 2.262 * 0.957427; mean != 5.5 || math.Abs(half-want) > 0.005*want {
		t.Errorf("meanCI = %v ± %v, want 5.5 ± %.4f", mean, half, want)
	}
	// Beyond the table, against the tables' 31, 40, 60 and 120.
	for df, want := range map[int]float64{3: 3.182, 31: 2.040, 40: 2.021, 60: 2.000, 120: 1.980} {
		if got := tQuantile(df); math.Abs(got-want) > 0.001*want {
			t.Errorf("tQuantile(%d) = %.4f, want %.3f", df, got, want)
		}
	}
}
