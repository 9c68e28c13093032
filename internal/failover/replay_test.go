package failover

import (
	"flag"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/probe"
)

// The replay: simulated days of a calm primary (how often the engine
// leaves a healthy link) and impairments at random moments (how fast it
// leaves a broken one), on the simulator of sim_test.go, the real engine
// and the probe's real bookkeeping. The normal test run replays a short
// version and asserts what must hold whatever the policy's tuning; the
// figures come from
//
//	go test -count=1 -run 'TestReplay$' -v ./internal/failover -args -replay.days=3
//
// and the alternative policies' trade-off from
//
//	go test -count=1 -run 'TestReplayTradeoff' -v -timeout 60m ./internal/failover -args -replay.tradeoff -replay.days=3
var (
	replayDays     = flag.Float64("replay.days", 0, "simulated days per calm scenario (0: a short run of 10 simulated minutes)")
	replayRuns     = flag.Int("replay.runs", 0, "runs per escape scenario (0: 100 with -replay.days, else 5)")
	replayTradeoff = flag.Bool("replay.tradeoff", false, "run TestReplayTradeoff: the alternative policies")
	replaySetup    = flag.String("replay.setup", "DefaultPolicy", "TestReplay: the setup replayed, by its name in tradeoffSetups")
)

// replayScale is the simulated time per calm scenario and the runs per
// escape scenario the flags ask for.
func replayScale() (time.Duration, int) {
	dur, runs := 10*time.Minute, 5
	if *replayDays > 0 {
		dur, runs = time.Duration(*replayDays*24*float64(time.Hour)), 100
	}
	if *replayRuns > 0 {
		runs = *replayRuns
	}
	return dur, runs
}

const (
	msec = time.Millisecond
	// warmup is replayed before anything is counted: the links' first
	// replies, the estimators settled.
	warmup = 30 * time.Second
	// chunk is the longest calm stretch one simulator replays; longer
	// scenarios are replayed as independent chunks, in parallel.
	chunk = 6 * time.Hour
	// escapeWindow is how long an impairment lasts in an escape run.
	escapeWindow = 10 * time.Second
	primary      = "tap1"
	standby      = "tap2"
)

// The links: a base RTT of 20 ms (10 ms each way); the standby stays
// healthy with a little jitter; the primary's impairment is the
// scenario's, the same in each direction (netem on both ends).
var (
	standbyLink = netem{delay: 10 * msec, jitter: 2 * msec}
	cleanLink   = netem{delay: 10 * msec}
)

func jittery(loss float64) netem { return netem{delay: 10 * msec, jitter: 20 * msec, loss: loss} }

// calmCase is a primary that stays as it is for the whole replay; its
// loss and jitter apply to each direction.
type calmCase struct {
	name string
	link netem
	seed uint64
}

var calmCases = []calmCase{
	{"0 % loss, no jitter", cleanLink, 1},
	{"0 % loss, 20 ms jitter", jittery(0), 2},
	{"1 % loss, 20 ms jitter", jittery(0.01), 3},
	{"3 % loss, 20 ms jitter", jittery(0.03), 4},
	// The gentlest reading of "1 % loss and 20 ms jitter": on the round
	// trip, not each way.
	{"0.5 % loss, 10 ms jitter", netem{delay: 10 * msec, jitter: 10 * msec, loss: 0.005}, 5},
	// As BenchmarkCalm's live emulator shapes it: in order, the jitter
	// bunched.
	{"1 % loss, 20 ms jitter, in order", netem{delay: 10 * msec, jitter: 20 * msec, loss: 0.01, inOrder: true}, 6},
}

// escapeCase is an impairment of the primary from a random moment on.
type escapeCase struct {
	name  string
	apply func(*simLink)
	seed  uint64
}

var escapeCases = []escapeCase{
	{"hard cut", func(l *simLink) { l.cut = true }, 1},
	// As BenchmarkFailover impairs the lab's underlay: 150 ms each way.
	{"+300 ms RTT", func(l *simLink) { l.toHub.delay += 150 * msec; l.toGw.delay += 150 * msec }, 2},
	// Hub to gateway only, as BenchmarkFailover: the replies are lost.
	{"30 % loss", func(l *simLink) { l.toGw.loss = 0.3 }, 3},
}

// escapeBases are the primary's states before an escape's impairment.
var escapeBases = []calmCase{
	{"clean", cleanLink, 100},
	{"1 % loss, 20 ms jitter", jittery(0.01), 200},
}

// setup is what a replay varies: the policy and the probe's active
// interval (zero: the probe's default).
type setup struct {
	name     string
	policy   Policy
	interval time.Duration
}

// activeInterval is the active link's probe interval.
func (u setup) activeInterval() time.Duration {
	if u.interval > 0 {
		return u.interval
	}
	return probe.DefaultInterval
}

func (u setup) sim(seed uint64, primaryLink netem) *sim {
	return newSim(simConfig{seed: seed, policy: u.policy, activeInterval: u.interval, links: []simLinkConfig{
		{name: primary, toHub: primaryLink, toGw: primaryLink},
		{name: standby, toHub: standbyLink, toGw: standbyLink},
	}})
}

// calmTally counts what the engine did over a calm replay.
type calmTally struct {
	dur      time.Duration
	left     map[string]int // switches away from the primary, by reason
	switches int            // every switch, the returns included
	states   map[string]int // the primary's state changes, by the state entered
	off      time.Duration  // time on the standby
	dup      time.Duration  // time the bond copied its frames (selective redundancy)
}

func (c *calmTally) merge(o calmTally) {
	if c.left == nil {
		c.left, c.states = map[string]int{}, map[string]int{}
	}
	c.dur += o.dur
	c.switches += o.switches
	c.off += o.off
	c.dup += o.dup
	for k, v := range o.left {
		c.left[k] += v
	}
	for k, v := range o.states {
		c.states[k] += v
	}
}

func (c calmTally) perDay(n int) float64 { return float64(n) / (c.dur.Hours() / 24) }

func (c calmTally) leaves() int {
	n := 0
	for _, v := range c.left {
		n += v
	}
	return n
}

// stateKind names the state an event enters: down, "degraded loss",
// "degraded rtt", "degraded other" (hold-down, recovering), up.
func stateKind(ev Event) string {
	if ev.State != api.LinkDegraded {
		return string(ev.State)
	}
	switch {
	case strings.HasPrefix(ev.Detail, "loss"):
		return "degraded loss"
	case strings.HasPrefix(ev.Detail, "rtt"):
		return "degraded rtt"
	}
	return "degraded other"
}

// replayCalm replays dur of a calm primary after the warm-up.
func replayCalm(u setup, link netem, dur time.Duration, seed uint64) calmTally {
	s := u.sim(seed, link)
	t := calmTally{left: map[string]int{}, states: map[string]int{}}
	var offSince time.Time
	s.onEvent = func(ev Event) {
		switch {
		case ev.Kind == api.EventSwitch:
			t.switches++
			if ev.From == primary {
				t.left[ev.Reason]++
				offSince = ev.At
			}
			if ev.To == primary && !offSince.IsZero() {
				t.off += ev.At.Sub(offSince)
				offSince = time.Time{}
			}
		case ev.Link == primary:
			t.states[stateKind(ev)]++
		}
	}
	s.runUntil(simEpoch.Add(warmup))
	t = calmTally{left: map[string]int{}, states: map[string]int{}}
	if s.active != primary {
		offSince = s.now
	}
	start := s.now
	dup0 := s.duplicated()
	s.runUntil(start.Add(dur))
	if !offSince.IsZero() {
		t.off += s.now.Sub(offSince)
	}
	t.dup = s.duplicated() - dup0
	t.dur = dur
	return t
}

// escapeRun is one impairment's outcome.
type escapeRun struct {
	steady  bool          // the primary was active and up when impaired
	left    bool          // the engine left the primary within the window
	after   time.Duration // from the impairment to the switch
	reason  string
	returns int // switches back to the impaired primary within the window
}

// replayEscape impairs the primary at a random moment of a steady state
// (after the warm-up, within 10 s; put off by a second at a time while
// the primary is not active and up) and watches escapeWindow.
func replayEscape(u setup, base netem, esc escapeCase, seed uint64) escapeRun {
	s := u.sim(seed, base)
	rng := rand.New(rand.NewPCG(seed, 0))
	s.runUntil(simEpoch.Add(warmup + time.Duration(rng.Int64N(int64(10*time.Second)))))
	for tries := 0; s.active != primary || s.e.judges[primary].state != api.LinkUp; tries++ {
		if tries == 60 {
			return escapeRun{}
		}
		s.runUntil(s.now.Add(time.Second))
	}
	impaired := s.now
	r := escapeRun{steady: true}
	s.onEvent = func(ev Event) {
		switch {
		case ev.Kind != api.EventSwitch:
		case ev.From == primary && !r.left:
			r.left, r.after, r.reason = true, ev.At.Sub(impaired), ev.Reason
		case ev.To == primary:
			r.returns++
		}
	}
	esc.apply(s.links[primary])
	s.runUntil(impaired.Add(escapeWindow))
	return r
}

// replayResult is a setup's replay: a tally per calm case, the runs per
// escape base and case.
type replayResult struct {
	calm   map[string]calmTally
	escape map[string][]escapeRun // by escape.key
}

// escape is an impairment of a primary in a given state.
type escape struct {
	base calmCase
	c    escapeCase
}

func (e escape) key() string { return e.c.name + " (" + e.base.name + ")" }

// allEscapes is every escape case on every base.
func allEscapes() []escape {
	var out []escape
	for _, b := range escapeBases {
		for _, c := range escapeCases {
			out = append(out, escape{b, c})
		}
	}
	return out
}

// replay replays calm cases for dur each (in chunks, in parallel) and
// runs of each escape, using every CPU.
func replay(u setup, calm []calmCase, escapes []escape, dur time.Duration, runs int) replayResult {
	res := replayResult{calm: map[string]calmTally{}, escape: map[string][]escapeRun{}}
	var mu sync.Mutex
	var jobs []func()
	for _, c := range calm {
		for k := 0; time.Duration(k)*chunk < dur; k++ {
			part := min(chunk, dur-time.Duration(k)*chunk)
			seed := c.seed<<32 | uint64(k)
			jobs = append(jobs, func() {
				t := replayCalm(u, c.link, part, seed)
				mu.Lock()
				defer mu.Unlock()
				all := res.calm[c.name]
				all.merge(t)
				res.calm[c.name] = all
			})
		}
	}
	for _, x := range escapes {
		key := x.key()
		res.escape[key] = make([]escapeRun, runs)
		for i := range runs {
			seed := x.base.seed<<32 | x.c.seed<<16 | uint64(i)
			jobs = append(jobs, func() {
				r := replayEscape(u, x.base.link, x.c, seed)
				mu.Lock()
				defer mu.Unlock()
				res.escape[key][i] = r
			})
		}
	}
	runJobs(jobs)
	return res
}

// runJobs runs jobs on every CPU, the longest (the first: calm chunks)
// first.
func runJobs(jobs []func()) {
	ch := make(chan func())
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range ch {
				j()
			}
		})
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
}

// TestReplay replays the calm and escape scenarios with DefaultPolicy (or
// the setup -replay.setup names) and logs the figures. It asserts only
// what any tuning must give: a clean primary is never left, a hard cut
// always is (for reason down, never back to the dead link).
func TestReplay(t *testing.T) {
	dur, runs := replayScale()
	start := time.Now()
	i := slices.IndexFunc(tradeoffSetups(), func(u setup) bool { return u.name == *replaySetup })
	if i < 0 {
		t.Fatalf("-replay.setup %q: no such setup in tradeoffSetups", *replaySetup)
	}
	u := tradeoffSetups()[i]
	res := replay(u, calmCases, allEscapes(), dur, runs)
	t.Logf("%s: %s, probes every %s\nreplayed %s of each calm primary, %d runs per escape, in %s on %d CPUs\n%s",
		u.name, u.policy, u.activeInterval(), fmtDur(dur), runs, time.Since(start).Round(time.Second), runtime.GOMAXPROCS(0), res.detail(calmCases, allEscapes()))
	t.Logf("summary\n%s%s", summaryHeader(), res.summary(u))

	clean := res.calm[calmCases[0].name]
	if clean.switches != 0 || len(clean.states) != 0 {
		t.Errorf("clean primary: %d switches, state changes %v; want none", clean.switches, clean.states)
	}
	for _, b := range escapeBases {
		for i, r := range res.escape[escape{b, escapeCases[0]}.key()] {
			switch {
			case !r.steady:
				t.Errorf("%s, run %d: the primary was never active and up to cut", b.name, i)
			case !r.left || r.reason != ReasonDown:
				t.Errorf("%s, run %d: hard cut left %v (reason %q), want left for down", b.name, i, r.left, r.reason)
			case r.returns != 0:
				t.Errorf("%s, run %d: %d returns to the cut primary", b.name, i, r.returns)
			}
		}
	}
}

// TestSimDeterministic: a seed replays the same events.
func TestSimDeterministic(t *testing.T) {
	u := setup{policy: DefaultPolicy()}
	a := replayCalm(u, jittery(0.03), 5*time.Minute, 7)
	b := replayCalm(u, jittery(0.03), 5*time.Minute, 7)
	if a.switches != b.switches || a.off != b.off || len(a.states) != len(b.states) {
		t.Fatalf("one seed, two outcomes: %+v and %+v", a, b)
	}
	for k, v := range a.states {
		if b.states[k] != v {
			t.Fatalf("one seed, two outcomes: %+v and %+v", a, b)
		}
	}
}

// TestSimLinkMeasures: the probe measures a simulated link as set: 20 ms
// of RTT, and a round trip lost with 1-(1-p)^2 when each direction loses
// p.
func TestSimLinkMeasures(t *testing.T) {
	lossy := netem{delay: 10 * msec, loss: 0.05}
	s := setup{policy: DefaultPolicy()}.sim(11, lossy)
	lost, replies := 0, 0
	for end := simEpoch.Add(warmup); s.now.Before(simEpoch.Add(5 * time.Minute)); {
		s.runUntil(s.now.Add(time.Second))
		if s.now.After(end) {
			f := s.links[primary].tr.Figures()
			lost += int(f.Loss*float64(f.Decided) + 0.5)
			replies += f.Decided
		}
	}
	f := s.links[primary].tr.Figures()
	if f.RTTSmoothed != 20*msec || f.RTTVar > msec {
		t.Errorf("srtt %v, rttvar %v: want 20 ms and about 0", f.RTTSmoothed, f.RTTVar)
	}
	// Each second's window is the last 50 probes: the mean over the
	// windows is the loss rate.
	want := 1 - (1-lossy.loss)*(1-lossy.loss)
	if got := float64(lost) / float64(replies); got < want*0.8 || got > want*1.2 {
		t.Errorf("round-trip loss %.3f, want %.3f", got, want)
	}
}
