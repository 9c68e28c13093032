package failover

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The replay's tables, in Markdown (docs/benchmarks.md takes them as
// they are).

// leaveTimes are the times to leave of the runs that left, sorted, how
// many runs stayed on the impaired primary, and how many never had it
// active and up to impair.
func leaveTimes(runs []escapeRun) (times []time.Duration, stayed, unsteady int) {
	for _, r := range runs {
		switch {
		case !r.steady:
			unsteady++
		case r.left:
			times = append(times, r.after)
		default:
			stayed++
		}
	}
	slices.Sort(times)
	return times, stayed, unsteady
}

// quantile is the nearest-rank q-quantile of sorted values.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

// spread is "p50 / p95 / max" in ms, with the runs that did not leave
// and those never in a steady state.
func spread(runs []escapeRun) string {
	times, stayed, unsteady := leaveTimes(runs)
	s := fmt.Sprintf("never left (%d runs)", len(runs))
	if len(times) > 0 {
		s = fmt.Sprintf("%s / %s / %s", fmtMs(quantile(times, 0.5)), fmtMs(quantile(times, 0.95)), fmtMs(times[len(times)-1]))
	}
	if stayed > 0 {
		s += fmt.Sprintf(" (%d of %d not left)", stayed, len(runs))
	}
	if unsteady > 0 {
		s += fmt.Sprintf(" (%d of %d never active and up to impair)", unsteady, len(runs))
	}
	return s
}

func fmtMs(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }

func fmtDur(d time.Duration) string {
	if d >= 24*time.Hour {
		return fmt.Sprintf("%g days", d.Hours()/24)
	}
	return d.String()
}

// counts is "k1 a, k2 b" for the keys present, in order.
func counts(m map[string]int, keys []string, f func(int) string) string {
	var parts []string
	for _, k := range keys {
		if m[k] > 0 {
			parts = append(parts, k+" "+f(m[k]))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// detail is the calm and escape tables of one setup.
func (r replayResult) detail(calm []calmCase, escapes []escape) string {
	var b strings.Builder
	b.WriteString("| calm primary | replayed | left the primary /day (by reason) | switches /day | primary's state changes /day (by state entered) | time off the primary | time copying frames |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, c := range calm {
		t := r.calm[c.name]
		day := func(n int) string { return fmt.Sprintf("%.1f", t.perDay(n)) }
		fmt.Fprintf(&b, "| %s | %s | %s (%s) | %s | %s | %.3f %% | %.3f %% |\n", c.name, fmtDur(t.dur), day(t.leaves()),
			counts(t.left, Reasons(), day), day(t.switches),
			counts(t.states, []string{"down", "degraded loss", "degraded rtt", "degraded other", "up"}, day),
			100*t.off.Seconds()/t.dur.Seconds(), 100*t.dup.Seconds()/t.dur.Seconds())
	}
	b.WriteString("\n| impairment (primary before) | runs | ms to leave p50 / p95 / max | first switch's reason | runs back on the impaired primary within 10 s |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, x := range escapes {
		runs := r.escape[x.key()]
		reasons, back := map[string]int{}, 0
		for _, run := range runs {
			if run.left {
				reasons[run.reason]++
			}
			if run.returns > 0 {
				back++
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %d |\n", x.key(), len(runs), spread(runs),
			counts(reasons, Reasons(), func(n int) string { return fmt.Sprint(n) }), back)
	}
	return b.String()
}

// summaryEscapes are the escapes in the summary: each case on the clean
// primary, and the hard cut of the jittery one.
var summaryEscapes = []escape{
	{escapeBases[0], escapeCases[0]}, {escapeBases[0], escapeCases[1]}, {escapeBases[0], escapeCases[2]},
	{escapeBases[1], escapeCases[0]},
}

// summaryHeader heads the one-row-per-setup table: the calm figures
// next to the speed figures.
func summaryHeader() string {
	return "| setup | primary left /day (time off it): 0 % loss, 20 ms jitter | 1 % loss, 20 ms jitter | 3 % loss, 20 ms jitter | ms to leave p50 / p95 / max: hard cut | +300 ms RTT | 30 % loss | hard cut of a 1 % loss, 20 ms jitter primary |\n" +
		"|---|---|---|---|---|---|---|---|\n"
}

// summary is one setup's row; a calm case or escape not replayed shows
// as "".
func (r replayResult) summary(u setup) string {
	cell := func(name string) string {
		t, ok := r.calm[name]
		if !ok {
			return ""
		}
		return fmt.Sprintf("%.1f (%.1f %%)", t.perDay(t.leaves()), 100*t.off.Seconds()/t.dur.Seconds())
	}
	esc := func(x escape) string {
		runs, ok := r.escape[x.key()]
		if !ok {
			return ""
		}
		return spread(runs)
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", u.name,
		cell(calmCases[1].name), cell(calmCases[2].name), cell(calmCases[3].name),
		esc(summaryEscapes[0]), esc(summaryEscapes[1]), esc(summaryEscapes[2]), esc(summaryEscapes[3]))
}
