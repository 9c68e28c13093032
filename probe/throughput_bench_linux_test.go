package probe

import (
	"math"
	"testing"
)

// BenchmarkProbeThroughput measures the tunnel's throughput with and
// without the probe: iperf3 TCP over one real OpenVPN TAP tunnel (gateway
// tap1 to the hub's bridge) in rounds of four runs: one without a
// program, one with the probe as the daemon runs it (programs, prober at
// the active link's 20 ms, ring reader), one with the prober at one probe
// a second (the same programs in the same traffic, a fiftieth of the
// daemon's ticks: what separates the programs' cost from the daemon's) and
// one with the prober ticking at 20 ms but sending no probe (what
// separates the ticks' cost from the probe frames'), in an order that
// rotates each round (a drift favours none),
// with the kernel's BPF statistics off. A round's ratios compare its runs,
// seconds apart; the figures are the medians of the rounds' ratios with
// their distribution-free 95 % intervals, and their means with their t
// intervals. A round's ratio varies by 5-7 % (standard deviation) on this
// host with nothing else changing (two busy processes on each of two CPUs
// of a shared machine), so 100 rounds resolve about ±1.1 % within a run; two runs of the same code have differed by more (docs).
// docs/benchmarks.md has the figures:
//
//	go test -run '^$' -bench ProbeThroughput -benchtime 1x -timeout 60m ./probe
func BenchmarkProbeThroughput(b *testing.B) {
	w, cpus := iperfWorld(b)
	const rounds = 100
	iperf(b, w, cpus) // a warm-up: the first runs were 10-15 % slower in every arm
	arms := []struct {
		name, unit string
		opts       Options
	}{
		{"probe", "", Options{}},
		{"probe at one probe a second", "-1s", Options{Interval: sparseEvery}},
		{"prober at 20 ms sending nothing", "-noframes", Options{noFrames: true}},
	}
	var none []float64
	with, ratio := make([][]float64, len(arms)), make([][]float64, len(arms))
	var attach string
	for i := range rounds {
		r := make([]float64, 1+len(arms))
		for k := range r {
			arm := (i + k) % len(r)
			if arm == 0 {
				r[0] = iperf(b, w, cpus)
				continue
			}
			m := probeTap1(b, w, arms[arm-1].opts)
			r[arm] = iperf(b, w, cpus)
			attach = m.Links()[0].Attach
			m.Close()
		}
		none = append(none, r[0])
		for a := range arms {
			with[a], ratio[a] = append(with[a], r[1+a]), append(ratio[a], r[1+a]/r[0])
		}
	}
	b.Logf("BENCH probe throughput (%s, kernel %s), iperf3 TCP over one tunnel, %d rounds, Mbit/s received, median [quartiles]: no program %.0f [%s]",
		attach, kernel(b), rounds, median(none), quartiles(none))
	for a, arm := range arms {
		b.Logf("BENCH probe throughput, %s: %.0f [%s] Mbit/s", arm.name, median(with[a]), quartiles(with[a]))
	}
	for a, arm := range arms {
		v := ratio[a]
		lo, hi := medianCI(v)
		mean, half := meanCI(v)
		b.Logf("BENCH probe throughput ratio %s / no program: median %.3f [quartiles %s], 95 %% interval %.3f .. %.3f; mean %.3f (standard deviation %.3f), 95 %% interval %.3f .. %.3f",
			arm.name, median(v), quartiles(v), lo, hi, mean, stddev(v), mean-half, mean+half)
		b.ReportMetric(median(v), "throughput-ratio"+arm.unit)
		b.ReportMetric(lo, "throughput-ratio-ci-low"+arm.unit)
		b.ReportMetric(mean-half, "throughput-ratio-mean-ci-low"+arm.unit)
	}
	frames := make([]float64, rounds) // the probe frames' share: probe over the prober sending nothing
	for i := range frames {
		frames[i] = with[0][i] / with[2][i]
	}
	lo, hi := medianCI(frames)
	mean, half := meanCI(frames)
	b.Logf("BENCH probe throughput ratio probe / prober at 20 ms sending nothing: median %.3f, 95 %% interval %.3f .. %.3f; mean %.3f, 95 %% interval %.3f .. %.3f",
		median(frames), lo, hi, mean, mean-half, mean+half)
}

// meanCI is v's mean and the half width of its 95 % t interval, the t
// quantile from its Cornish-Fisher expansion in the degrees of freedom
// (within 0.3 % of the tables from 10 values on).
func meanCI(v []float64) (mean, half float64) {
	n := float64(len(v))
	mean = meanOf(v)
	const z = 1.959964
	df := n - 1
	t := z + (z*z*z+z)/(4*df) + (5*math.Pow(z, 5)+16*z*z*z+3*z)/(96*df*df)
	return mean, t * stddev(v) / math.Sqrt(n)
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
// standard error 0.9574, t(9) at 97.5 % is 2.262.
func TestMeanCI(t *testing.T) {
	v := []float64{3, 1, 2, 10, 4, 5, 9, 6, 8, 7}
	mean, half := meanCI(v)
	if want := 2.262 * 0.957427; mean != 5.5 || math.Abs(half-want) > 0.005*want {
		t.Errorf("meanCI = %v ± %v, want 5.5 ± %.4f", mean, half, want)
	}
}
