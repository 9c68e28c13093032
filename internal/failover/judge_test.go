package failover

import (
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/probe"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// feeder plays a recorded sample sequence into a judge, computing the
// figures the way the probe does (RFC 6298, loss over the last 50).
type feeder struct {
	t      *testing.T
	j      *judge
	p      Policy
	fig    probe.Figures
	window []bool
	now    int // ms
	log    []string
	o      others // the bond's other links (none by default)
	// A dead link's probes in flight, and its burst (probes left; -1:
	// spent); the largest RTT, and the losses in a row, as the probe has.
	dead    []time.Time
	burst   int
	maxRTT  time.Duration
	lossRun []time.Time
}

func newFeeder(t *testing.T, interval time.Duration) *feeder {
	f := &feeder{t: t, p: DefaultPolicy()}
	f.j = newJudge(at(0), interval, func(after time.Time) time.Time { return sentBy(after, interval, at(f.now)) })
	return f
}

// sentBy models a prober sending every interval that has not stalled: the
// first probe after t leaves at the latest one interval later, if that is
// not after now.
func sentBy(t time.Time, interval time.Duration, now time.Time) time.Time {
	if s := t.Add(interval); !s.After(now) {
		return s
	}
	return time.Time{}
}

// step feeds one probe outcome at f.now (+every ms) and evaluates; rtt < 0
// is a loss, rtt 0 is a dead link: nothing arrives, and its probes (one
// every 20 ms, then 2 ms apart from the first loss: the probe's burst)
// count as lost once unanswered for the probe's reply timeout.
func (f *feeder) run(durMs, everyMs int, rtt time.Duration) {
	f.dead, f.burst = nil, 0
	next := f.now
	for end := f.now + durMs; f.now < end; f.now += everyMs {
		switch {
		case rtt > 0:
			f.observe(rtt)
			f.j.sample(probe.Sample{At: at(f.now), RTT: rtt}, f.fig, f.p)
		case rtt < 0:
			f.decide(true)
			f.j.sample(probe.Sample{At: at(f.now), Lost: true}, f.fig, f.p)
		case f.fig.HasRTT:
			for len(f.dead) > 0 && at(f.now).Sub(f.dead[0]) > f.fig.Timeout {
				f.decide(true)
				f.j.sample(probe.Sample{At: at(f.now), Lost: true, Sent: f.dead[0]}, f.fig, f.p)
				f.dead = f.dead[1:]
				if f.burst == 0 {
					f.burst, next = 24, f.now
				}
			}
			if f.now >= next {
				f.dead = append(f.dead, at(f.now))
				next = f.now + 20
				if f.burst > 0 {
					next = f.now + 2
					if f.burst--; f.burst == 0 {
						f.burst = -1 // spent
					}
				}
			}
		}
		if f.j.evaluate(at(f.now), f.p, f.o) {
			f.log = append(f.log, stateAt(f.now, f.j.state))
		}
	}
}

// wait evaluates every ms for dur ms with no sample: silence, and no probe
// counted lost yet.
func (f *feeder) wait(durMs int) {
	for end := f.now + durMs; f.now < end; f.now++ {
		if f.j.evaluate(at(f.now), f.p, f.o) {
			f.log = append(f.log, stateAt(f.now, f.j.state))
		}
	}
}

func stateAt(ms int, s api.LinkState) string {
	return time.Duration(ms*int(time.Millisecond)).String() + " " + string(s)
}

func (f *feeder) observe(r time.Duration) {
	g := &f.fig
	if !g.HasRTT {
		g.RTTSmoothed, g.RTTVar, g.HasRTT = r, r/2, true
	} else {
		g.RTTVar = (3*g.RTTVar + absDur(g.RTTSmoothed-r)) / 4
		g.RTTSmoothed = (7*g.RTTSmoothed + r) / 8
	}
	g.RTTLast = r
	f.maxRTT = max(f.maxRTT, r)
	g.Timeout = max(5*time.Millisecond, g.RTTSmoothed+4*g.RTTVar, f.maxRTT+f.maxRTT/4) // the probe's, uncapped
	if n := len(f.lossRun); n >= 3 && at(f.now).Sub(f.lossRun[0]) >= 200*time.Millisecond {
		f.window = nil // an outage, not loss (probe's tracker)
	}
	f.lossRun = nil
	f.decide(false)
}

func (f *feeder) decide(lost bool) {
	if lost {
		f.lossRun = append(f.lossRun, at(f.now))
	}
	f.window = append(f.window, lost)
	if len(f.window) > 50 {
		f.window = f.window[1:]
	}
	n := 0
	for _, l := range f.window {
		if l {
			n++
		}
	}
	f.fig.Decided, f.fig.Loss = len(f.window), float64(n)/float64(len(f.window))
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// transition returns the time of the first change to s after fromMs.
func (f *feeder) transition(s api.LinkState, fromMs int) (time.Duration, bool) {
	for _, e := range f.log {
		d, st, _ := strings.Cut(e, " ")
		dur, _ := time.ParseDuration(d)
		if api.LinkState(st) == s && dur >= time.Duration(fromMs)*time.Millisecond {
			return dur - time.Duration(fromMs)*time.Millisecond, true
		}
	}
	return 0, false
}

func TestJudgeSequences(t *testing.T) {
	const iv = 20 * time.Millisecond
	cases := []struct {
		name  string
		play  func(f *feeder) // returns with f.log filled
		check func(t *testing.T, f *feeder)
	}{
		{"fast link dies: down at its third probe lost in a row, once silent for 60 ms", func(f *feeder) {
			f.run(1000, 20, time.Millisecond)
			f.run(500, 1, 0) // dead, evaluated every ms
		}, func(t *testing.T, f *feeder) {
			d, ok := f.transition(api.LinkDown, 1000)
			// Probes at 1000, then 1006 and 1008 (the burst), each lost 5 ms
			// on (the reply timeout's floor) at 1006, 1012 and 1014; the
			// last reply at 980, so down at 980 + 60 (3 x 20 ms) + 1.
			if !ok || d != 41*time.Millisecond {
				t.Errorf("down %v after the last sample at 1000 ms (log %v), want 41 ms", d, f.log)
			}
		}},
		{"jittery link (RTT 1 to 61 ms) dies: down once silent an interval plus its reply timeout", func(f *feeder) {
			for k := 0; k < 25; k++ {
				f.run(20, 20, time.Millisecond)
				f.run(20, 20, 61*time.Millisecond)
			}
			f.run(60, 20, -1) // three probes lost: the run is complete at 1040 ms
			f.run(500, 1, 0)
		}, func(t *testing.T, f *feeder) {
			// Healthy, its replies come up to 20 + 60 ms apart: the 60 ms
			// floor would take such a gap, with lost probes in it, for a
			// cut (down at 1060 ms before). The last reply at 980 ms.
			d, ok := f.transition(api.LinkDown, 1000)
			want := (iv + f.fig.Timeout).Truncate(time.Millisecond) + time.Millisecond - 20*time.Millisecond
			if !ok || d != want || f.fig.Timeout < 76*time.Millisecond {
				t.Errorf("down %v after the last sample at 1000 ms (log %v, reply timeout %v), want %v", d, f.log, f.fig.Timeout, want)
			}
		}},
		{"slow but steady link is not dead by its latency", func(f *feeder) {
			f.run(2000, 20, 300*time.Millisecond) // 300 ms RTT, replies pipelined every 20 ms
			f.run(400, 1, 0)                      // 400 ms without a reply: less than 2*SRTT+4*RTTVAR
		}, func(t *testing.T, f *feeder) {
			if f.j.state != api.LinkUp || len(f.log) != 1 {
				t.Errorf("state %s, log %v: want up throughout", f.j.state, f.log)
			}
			f.run(300, 1, 0) // now past 600 ms + 4 x var
			if f.j.state != api.LinkDown {
				t.Errorf("state %s after 700 ms of silence", f.j.state)
			}
		}},
		{"+300 ms delay: degraded by RTT", func(f *feeder) {
			f.run(1000, 20, time.Millisecond)
			f.run(1000, 20, 301*time.Millisecond)
		}, func(t *testing.T, f *feeder) {
			d, ok := f.transition(api.LinkDegraded, 1000)
			if !ok || d > 200*time.Millisecond || !strings.Contains(f.j.reason, "rtt") {
				t.Errorf("degraded after %v (%v), reason %q: want within 200 ms of samples", d, f.log, f.j.reason)
			}
		}},
		{"30% loss: degraded by loss", func(f *feeder) {
			f.run(1000, 20, time.Millisecond)
			for k := 0; k < 20; k++ { // 3 of every 10 lost, none in a row
				for _, lost := range []bool{true, false, false, true, false, false, true, false, false, false} {
					rtt := time.Millisecond
					if lost {
						rtt = -1
					}
					f.run(20, 20, rtt)
				}
			}
		}, func(t *testing.T, f *feeder) {
			d, ok := f.transition(api.LinkDegraded, 1000)
			if !ok || d > time.Second || !strings.Contains(f.j.reason, "loss") {
				t.Errorf("degraded after %v (%v), reason %q", d, f.log, f.j.reason)
			}
		}},
		{"2% loss stays up", func(f *feeder) {
			f.run(1000, 20, time.Millisecond)
			for k := 0; k < 10; k++ {
				f.run(980, 20, time.Millisecond)
				f.run(20, 20, -1)
			}
		}, func(t *testing.T, f *feeder) {
			if len(f.log) != 1 || f.j.state != api.LinkUp {
				t.Errorf("log %v, want up throughout", f.log)
			}
		}},
		{"recovery waits for the hold-down", func(f *feeder) {
			f.run(1000, 20, time.Millisecond)
			f.run(1000, 1, 0)
			f.run(3000, 20, time.Millisecond)
		}, func(t *testing.T, f *feeder) {
			want := []string{"0s up", "1.041s down", "2s degraded", "4s up"}
			if strings.Join(f.log, ", ") != strings.Join(want, ", ") {
				t.Errorf("log %v, want %v", f.log, want)
			}
		}},
		{"flapping 1 s down / 1 s up never gets traffic back", func(f *feeder) {
			f.run(1000, 20, time.Millisecond)
			for k := 0; k < 15; k++ {
				f.run(1000, 1, 0)
				f.run(1000, 20, time.Millisecond)
			}
		}, func(t *testing.T, f *feeder) {
			ups := 0
			for _, e := range f.log[1:] {
				if strings.HasSuffix(e, " up") {
					ups++
				}
			}
			if ups != 0 {
				t.Errorf("up %d times while flapping: %v", ups, f.log)
			}
			// Once it stops flapping it comes back after the hold-down, whose
			// first second the last up phase already served.
			start := f.now
			f.run(10000, 20, time.Millisecond)
			want := f.p.HoldDown - time.Second
			if d, ok := f.transition(api.LinkUp, start); !ok || d < want || d > want+100*time.Millisecond {
				t.Errorf("up %v after the flapping stopped (ok %t), want %v", d, ok, want)
			}
		}},
		{"flapping 3 s down / 5 s up: each failure after being trusted lengthens the hold-down", func(f *feeder) {
			f.run(1000, 20, time.Millisecond)
			for k := 0; k < 8; k++ {
				f.run(3000, 1, 0)
				f.run(5000, 20, time.Millisecond)
			}
		}, func(t *testing.T, f *feeder) {
			ups := 0
			for _, e := range f.log[1:] {
				if strings.HasSuffix(e, " up") {
					ups++
				}
			}
			// The hold-down doubles with each failure after being trusted
			// (and halves again every minute): at most every other flap.
			if ups > 4 {
				t.Errorf("trusted again %d times in 8 flaps, want at most 4: %v", ups, f.log)
			}
			if p := f.j.decayedPenalty(at(f.now), f.p); p < 2 {
				t.Errorf("flap penalty %.2f", p)
			}
		}},
		{"a lossy period's blips are one failure", func(f *feeder) {
			f.run(1000, 20, time.Millisecond)
			for k := 0; k < 10; k++ { // down and back, within one bad period
				f.run(80, 1, 0)
				f.run(300, 20, time.Millisecond)
			}
			f.run(3000, 20, time.Millisecond)
		}, func(t *testing.T, f *feeder) {
			if p := f.j.decayedPenalty(at(f.now), f.p); p > 1.01 {
				t.Errorf("flap penalty %.2f after one bad period, want 1", p)
			}
			if f.j.state != api.LinkUp {
				t.Errorf("state %s after 3 s of health, want up (hold-down 2 s)", f.j.state)
			}
		}},
		{"a link that never answers goes down after the start-up grace", func(f *feeder) {
			f.run(10100, 10, 0)
		}, func(t *testing.T, f *feeder) {
			if d, ok := f.transition(api.LinkDown, 0); !ok || d < startupGrace || d > startupGrace+20*time.Millisecond {
				t.Errorf("down at %v (%v), want just past %v: its tunnel may still be connecting", d, f.log, startupGrace)
			}
		}},
		{"role change restarts the dead time", func(f *feeder) {
			f.j.setInterval(time.Second, at(0))
			f.run(3000, 1000, time.Millisecond) // a backup, probed every second
			f.j.setInterval(iv, at(f.now))      // made active: 20 ms
			f.wait(50)                          // 50 ms without reply nor loss: below 60 ms
		}, func(t *testing.T, f *feeder) {
			if f.j.state != api.LinkUp {
				t.Errorf("state %s right after the role change (%v)", f.j.state, f.log)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFeeder(t, iv)
			c.play(f)
			c.check(t, f)
		})
	}
}

// A lossy link's detection dates from the loss test's change point: the
// first probe lost since the test was last back at zero, not an isolated
// loss long before, nor the latest reply.
func TestJudgeLossDetectedSince(t *testing.T) {
	p := DefaultPolicy()
	j := newJudge(at(0), 20*time.Millisecond, func(time.Time) time.Time { return time.Time{} })
	fig := probe.Figures{RTTSmoothed: 20 * time.Millisecond, RTTVar: time.Millisecond, HasRTT: true, Decided: 50}
	now := 0
	reply := func() {
		now += 2
		j.sample(probe.Sample{At: at(now), RTT: 20 * time.Millisecond}, fig, p)
	}
	lose := func() {
		now += 2
		j.sample(probe.Sample{At: at(now), Lost: true, Sent: at(now - 25)}, fig, p)
	}
	for range 20 {
		reply()
	}
	lose() // an isolated loss: the replies after it bring the test back to zero
	for range 20 {
		reply()
	}
	if !j.lossSince.IsZero() {
		t.Fatalf("loss test back at zero, change point %v kept", j.lossSince)
	}
	first := now + 2 - 25
	for i := 0; !j.lossBad(p); i++ {
		if i == 200 {
			t.Fatal("50 % loss never alarmed the loss test")
		}
		lose()
		reply()
	}
	j.evaluate(at(now), p, others{})
	if j.signal != api.SignalLoss {
		t.Fatalf("signal %q, want %q", j.signal, api.SignalLoss)
	}
	if got := j.detectedSince(); !got.Equal(at(first)) {
		t.Errorf("detected since %v, want the first lost probe's send time %v", got.Sub(t0), at(first).Sub(t0))
	}
}
