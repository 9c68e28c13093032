package failover

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/probe"
)

// fakeBond is a bond and its probe: the steering it receives, the figures
// and probe rates of its links.
type fakeBond struct {
	mu        sync.Mutex
	kernel    map[string]time.Time // the kernel's last reply per link
	active    string
	steers    []string
	announced int
	steerErr  error
	fast      map[string]bool
	suspect   map[string]bool // probed at the burst rate while fast
	dup       string          // the link the bond copies its frames to
	dups      []string        // every Duplicate call's link
	dupErr    error
	idle      map[string]bool // probed at 500 ms while fast and carrying (an idle active link)
	carrying  map[string]bool
	fig       map[string]probe.Figures
	now       time.Time            // the rig's clock, for the prober's sends
	sendsFrom map[string]time.Time // a link's prober sends nothing before it (stalled)
}

func newFakeBond(active string) *fakeBond {
	return &fakeBond{active: active, fast: map[string]bool{}, suspect: map[string]bool{}, idle: map[string]bool{}, carrying: map[string]bool{}, fig: map[string]probe.Figures{}, kernel: map[string]time.Time{}, sendsFrom: map[string]time.Time{}}
}

func (f *fakeBond) Steer(_ context.Context, _, link string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.steerErr != nil {
		return f.steerErr
	}
	f.active = link
	f.steers = append(f.steers, link)
	if f.dup == link {
		f.dup = ""
	}
	return nil
}

func (f *fakeBond) Active(context.Context, string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active, nil
}

func (f *fakeBond) Announce(context.Context, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.announced++
	return nil
}

func (f *fakeBond) Figures(link string) (probe.Figures, time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	iv := time.Second
	switch {
	case f.fast[link] && f.idle[link] && f.carrying[link]:
		iv = 500 * time.Millisecond
	case f.fast[link]:
		iv = 20 * time.Millisecond
	}
	return f.fig[link], iv, true
}

func (f *fakeBond) LastReply(link string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.kernel[link]
}

// FirstSentAfter: the prober sends its first probe after t at most one
// interval later, or when it resumes after a stall.
func (f *fakeBond) FirstSentAfter(link string, t time.Time) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	iv := time.Second
	if f.fast[link] {
		iv = 20 * time.Millisecond
	}
	if from := f.sendsFrom[link]; t.Before(from) {
		t = from.Add(-iv)
	}
	return sentBy(t, iv, f.now)
}

func (f *fakeBond) SetCarrying(link string, carrying bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.carrying[link] = carrying
	return nil
}

// Duplicate records the copies asked for; dupErr refuses them. A switch
// to the link copied to ends the copies (as the eBPF bond does).
func (f *fakeBond) Duplicate(_ context.Context, _, link string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dupErr != nil {
		return f.dupErr
	}
	f.dups = append(f.dups, link)
	f.dup = link
	return nil
}

func (f *fakeBond) Duplicating(context.Context, string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dup, nil
}

func (f *fakeBond) SetSuspect(link string, suspect bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.suspect[link] = suspect
	return nil
}

func (f *fakeBond) SetActive(link string, fast bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fast[link] = fast
	return nil
}

// rig is an engine on a fakeBond with two links, driven by hand.
type rig struct {
	t      *testing.T
	e      *Engine
	b      *fakeBond
	now    int            // ms
	lostAt map[string]int // a silent link's last loss, ms
}

func newRig(t *testing.T) *rig {
	b := newFakeBond("tap1")
	e := NewEngine(EngineOptions{Bond: "bond0", Links: []string{"tap1", "tap2"}, Primary: "tap1",
		Policy: DefaultPolicy(), Steerer: b, Prober: b, Events: NewEvents(0)})
	for l := range e.judges { // the rig's clock starts at t0, not now
		_, iv, _ := b.Figures(l)
		e.judges[l] = newJudge(at(0), iv, e.firstSentOf(l))
	}
	e.active, e.steered = "tap1", "tap1" // as Run does
	e.setProbeRates(time.Now())
	return &rig{t: t, e: e, b: b}
}

// play advances to +dur, every step ms feeding each link in answering a
// reply with rtt (figures set to that steady RTT, no loss). The other
// links that answered before lose their probes, as the probe counts them:
// one a step (a burst) or one a probe interval if longer, none while their
// prober is stalled (sendsFrom); an idle link's probes are the test's to
// play.
func (r *rig) play(durMs, stepMs int, answering map[string]time.Duration) {
	if r.lostAt == nil {
		r.lostAt = map[string]int{}
	}
	for end := r.now + durMs; r.now < end; r.now += stepMs {
		for l, rtt := range answering {
			r.b.mu.Lock()
			r.b.fig[l] = probe.Figures{RTTLast: rtt, RTTSmoothed: rtt, RTTVar: rtt / 8, HasRTT: true, Decided: 50}
			r.b.mu.Unlock()
			r.e.take(probe.Sample{Bond: "bond0", Link: l, At: at(r.now), RTT: rtt})
		}
		for _, l := range r.e.links {
			if _, ok := answering[l]; ok {
				continue
			}
			fig, iv, _ := r.b.Figures(l)
			r.b.mu.Lock()
			ever, stalled := fig.HasRTT && !r.b.idle[l], r.b.sendsFrom[l].After(at(r.now))
			r.b.mu.Unlock()
			every := max(stepMs, int(iv/time.Millisecond))
			if ever && !stalled && r.now-r.lostAt[l] >= every {
				r.lostAt[l] = r.now
				r.e.take(probe.Sample{Bond: "bond0", Link: l, At: at(r.now), Lost: true, Sent: at(r.now - 5)})
			}
		}
		r.stepNow()
	}
}

// stepNow evaluates at the rig's clock, which the prober's sends follow.
func (r *rig) stepNow() time.Time {
	r.b.mu.Lock()
	r.b.now = at(r.now)
	r.b.mu.Unlock()
	return r.e.step(context.Background(), at(r.now))
}

func (r *rig) switches() []Event {
	var out []Event
	for _, e := range r.e.events.List("bond0", 0) {
		if e.Kind == api.EventSwitch {
			out = append(out, e)
		}
	}
	return out
}

func both(rtt time.Duration) map[string]time.Duration {
	return map[string]time.Duration{"tap1": rtt, "tap2": rtt}
}

// A bond an earlier daemon left copying (it stopped while the active link
// was suspect) is taken over at the start: the copies end once the engine
// does not want them, instead of lasting until the next suspicion.
func TestEngineAdoptsLeftoverCopies(t *testing.T) {
	r := newRig(t)
	r.b.dup = "tap2"
	r.e.adoptDuplicate(context.Background(), at(0))
	if r.e.dup != "tap2" {
		t.Fatalf("engine's copies %q after the start, want tap2 (the bond's)", r.e.dup)
	}
	r.play(200, 10, both(time.Millisecond))
	if r.b.dup != "" || !slices.Equal(r.b.dups, []string{""}) {
		t.Errorf("bond copies to %q after a healthy start (calls %q), want them stopped once", r.b.dup, r.b.dups)
	}
	// Nothing left to take over: nothing asked of the bond.
	r = newRig(t)
	r.e.adoptDuplicate(context.Background(), at(0))
	r.play(200, 10, both(time.Millisecond))
	if len(r.b.dups) != 0 {
		t.Errorf("bond asked to copy %q on a healthy start without copies", r.b.dups)
	}
}

func TestEngineFailoverAndFailback(t *testing.T) {
	r := newRig(t)
	ms := time.Millisecond
	r.play(1000, 10, both(ms))
	if r.e.active != "tap1" || len(r.b.steers) != 0 {
		t.Fatalf("healthy start: active %s, steers %v", r.e.active, r.b.steers)
	}
	if !r.b.fast["tap1"] || r.b.fast["tap2"] {
		t.Errorf("probe rates %v: want tap1 fast only", r.b.fast)
	}
	// tap1 goes silent: switch to tap2 at its third probe lost in a row
	// (one every 20 ms here; the probe's bursts send them 2 ms apart).
	r.play(200, 5, map[string]time.Duration{"tap2": ms})
	sw := r.switches()
	if len(sw) != 1 || sw[0].To != "tap2" || sw[0].Reason != ReasonDown {
		t.Fatalf("switches %+v, want one to tap2 for down", sw)
	}
	if sw[0].Signal != api.SignalLossRun {
		t.Errorf("signal %q, want %q", sw[0].Signal, api.SignalLossRun)
	}
	// Down at the third loss in a row once silent for the dead time's
	// floor, 60 ms (the copies to tap2 began at the first loss).
	if d := sw[0].Detection; d < 60*ms || d > 70*ms {
		t.Errorf("detection %v, want 60-70 ms after the last reply", d)
	}
	// Announced twice: when the copies to tap2 began (the first loss),
	// and at the switch.
	if r.b.announced != 2 || !r.b.fast["tap2"] {
		t.Errorf("announced %d, want 2; probe rates %v", r.b.announced, r.b.fast)
	}
	// The dead primary is probed at the active rate: its return shows at once.
	if !r.b.fast["tap1"] {
		t.Error("the down primary is not probed at the active rate")
	}
	// tap1 answers again: no failback during the hold-down, and it is
	// probed fast meanwhile (make-before-break).
	r.play(1900, 10, both(ms))
	if r.e.active != "tap2" {
		t.Fatalf("failed back after %d ms of recovery, hold-down is 2 s", 1900)
	}
	if !r.b.fast["tap1"] {
		t.Error("tap1 in its hold-down is not probed fast")
	}
	r.play(200, 10, both(ms))
	sw = r.switches()
	if len(sw) != 2 || sw[1].To != "tap1" || sw[1].Reason != ReasonFailback {
		t.Fatalf("switches %+v, want a failback to tap1", sw)
	}
	if r.b.fast["tap2"] {
		t.Error("tap2 still probed fast after failback")
	}
	st := r.e.Status()
	if st.Failovers[ReasonDown] != 1 || st.Failovers[ReasonFailback] != 1 || st.Active != "tap1" {
		t.Errorf("status %+v", st)
	}
}

func TestEngineDegradedPrimary(t *testing.T) {
	r := newRig(t)
	r.play(1000, 10, both(time.Millisecond))
	r.play(1000, 10, map[string]time.Duration{"tap1": 300 * time.Millisecond, "tap2": time.Millisecond})
	sw := r.switches()
	if len(sw) != 1 || sw[0].To != "tap2" || sw[0].Reason != ReasonRTT || sw[0].Signal != api.SignalRTT {
		t.Fatalf("switches %+v, want one to tap2 for degraded_rtt, signal rtt", sw)
	}
	// The slow primary stays probed fast, so its recovery shows at once.
	if !r.b.fast["tap1"] || !r.b.fast["tap2"] {
		t.Errorf("probe rates %v: want the degraded primary and the active link fast", r.b.fast)
	}
}

func TestEngineAllDownKeepsLast(t *testing.T) {
	r := newRig(t)
	r.play(1000, 10, both(time.Millisecond))
	r.play(5000, 10, nil)
	// Both lose their probes (tap2 probed fast from tap1's first loss):
	// a host stall until the stall limit, then both down at about the
	// same time. At most one switch (to tap2, should it look alive a
	// moment longer), then nothing while both are down.
	if sw := r.switches(); len(sw) > 1 || len(sw) == 1 && sw[0].To != "tap2" {
		t.Fatalf("switches %+v with every link down, active %s", sw, r.e.active)
	}
	st := r.e.Status()
	for _, l := range st.Links {
		if l.State != api.LinkDown {
			t.Errorf("%s is %s, want down", l.Link, l.State)
		}
	}
}

// TestEngineAnnouncesRevivedLink: with every link silent the bond stays
// on the last one; when it answers again, the hub is told at once (its
// neighbours may have given up on the bond's address), without a switch;
// replies that follow one another tell it nothing more.
func TestEngineAnnouncesRevivedLink(t *testing.T) {
	r := newRig(t)
	r.play(1000, 10, both(time.Millisecond))
	r.play(3000, 10, nil)
	sw, told := len(r.switches()), r.b.announced
	active := r.e.active
	r.play(100, 10, map[string]time.Duration{active: time.Millisecond})
	if got := r.b.announced - told; got != 1 {
		t.Errorf("the active link %s answers again: %d announcements, want 1", active, got)
	}
	if n := len(r.switches()); n != sw {
		t.Errorf("%d switches on the revival, want none", n-sw)
	}
	other := "tap1"
	if active == "tap1" {
		other = "tap2"
	}
	told = r.b.announced
	r.play(100, 10, map[string]time.Duration{active: time.Millisecond, other: time.Millisecond})
	if r.e.active == active && r.b.announced != told {
		t.Errorf("a standby answering again: %d announcements, want none", r.b.announced-told)
	}
}

// TestEngineIdleLinkResumed: an idle active link, probed every 500 ms, is
// judged at that rate (its dead time 1.5 s); the prober's Resumed sample
// (data on it again, probed at 20 ms from then) is no reply, and a link
// cut meanwhile is then left at the fast rate's dead time after it, not
// the idle one's after its last reply.
func TestEngineIdleLinkResumed(t *testing.T) {
	r := newRig(t)
	ms := time.Millisecond
	r.play(1000, 10, both(ms))
	r.b.mu.Lock()
	r.b.idle["tap1"] = true
	r.b.mu.Unlock()
	for range 6 { // 3 s of replies every 500 ms on tap1, every 20 ms on tap2
		r.play(500, 10, map[string]time.Duration{"tap2": ms})
		r.e.take(probe.Sample{Bond: "bond0", Link: "tap1", At: at(r.now), RTT: ms})
		r.stepNow()
	}
	if sw := r.switches(); len(sw) != 0 {
		t.Fatalf("idle link answering every 500 ms: switches %+v", sw)
	}
	r.b.mu.Lock()
	carrying := maps.Clone(r.b.carrying)
	r.b.mu.Unlock()
	if !carrying["tap1"] || carrying["tap2"] {
		t.Fatalf("carrying %v, want the active link alone", carrying)
	}
	last := r.e.judges["tap1"].lastReply
	r.play(300, 10, map[string]time.Duration{"tap2": ms}) // cut: tap1 silent
	r.b.mu.Lock()
	r.b.idle["tap1"] = false
	r.b.mu.Unlock()
	resumed := r.now
	r.e.take(probe.Sample{Bond: "bond0", Link: "tap1", At: at(resumed), Resumed: true})
	if got := r.e.judges["tap1"].lastReply; !got.Equal(last) {
		t.Fatalf("a resumed sample counted as a reply (last reply %s, was %s)", got, last)
	}
	r.stepNow()
	r.play(200, 10, map[string]time.Duration{"tap2": ms})
	sw := r.switches()
	if len(sw) != 1 || sw[0].To != "tap2" {
		t.Fatalf("switches %+v, want one to tap2 after the resume", sw)
	}
	r.b.mu.Lock()
	carrying = maps.Clone(r.b.carrying)
	r.b.mu.Unlock()
	if carrying["tap1"] {
		t.Errorf("carrying %v after tap1 went down, want not tap1", carrying)
	}
	if d := sw[0].At.Sub(at(resumed)); d > 150*ms {
		t.Errorf("left %s after the resume, want within the fast rate's dead time", d)
	}
}

func TestEnginePinAndPriority(t *testing.T) {
	r := newRig(t)
	r.play(1000, 10, both(time.Millisecond))
	pin := "tap2"
	if err := r.e.Apply(Update{Pin: &pin}); err != nil {
		t.Fatal(err)
	}
	r.play(50, 10, both(time.Millisecond))
	if sw := r.switches(); len(sw) != 1 || sw[0].To != "tap2" || sw[0].Reason != ReasonManual {
		t.Fatalf("pin: switches %+v", sw)
	}
	// Pinned: tap2 dying does not move traffic.
	r.play(500, 10, map[string]time.Duration{"tap1": time.Millisecond})
	if r.e.active != "tap2" {
		t.Fatalf("pinned tap2 left for %s", r.e.active)
	}
	release := ""
	if err := r.e.Apply(Update{Pin: &release}); err != nil {
		t.Fatal(err)
	}
	r.play(50, 10, map[string]time.Duration{"tap1": time.Millisecond})
	if sw := r.switches(); len(sw) != 2 || sw[1].To != "tap1" || sw[1].Reason != ReasonManual {
		t.Fatalf("release: switches %+v", sw)
	}
	// A new primary (PUT bond_params primary) reorders the priority.
	r.play(3000, 10, both(time.Millisecond))
	p := "tap2"
	if err := r.e.Apply(Update{Primary: &p}); err != nil {
		t.Fatal(err)
	}
	r.play(50, 10, both(time.Millisecond))
	if r.e.active != "tap2" || r.e.Status().Priority[0] != "tap2" {
		t.Errorf("after primary tap2: active %s, priority %v", r.e.active, r.e.Status().Priority)
	}
	// Bad updates change nothing.
	bad := "tap9"
	for _, u := range []Update{{Pin: &bad}, {Priority: &[]string{"tap1"}}, {Priority: &[]string{"tap1", "tap1"}}, {Primary: &bad}} {
		before := r.e.Status()
		if err := r.e.Apply(u); errkind.KindOf(err) != errkind.KindInvalid {
			t.Errorf("update %+v: %v, want invalid", u, err)
		}
		if after := r.e.Status(); after.Pin != before.Pin || strings.Join(after.Priority, ",") != strings.Join(before.Priority, ",") {
			t.Errorf("a refused update changed the engine: %+v -> %+v", before, after)
		}
	}
}

// TestEngineKernelSwitch: a switch the bond made by itself onto a healthy
// link is kept: the hub is told, the bond's primary follows it at the next
// step (else the kernel would return to the old primary past any
// hold-down), and the engine returns to the link left only after a
// hold-down, both healthy.
func TestEngineKernelSwitch(t *testing.T) {
	r := newRig(t)
	r.play(100, 10, both(time.Millisecond))
	r.b.mu.Lock()
	r.b.active = "tap2" // the bond moved by itself
	r.b.mu.Unlock()
	r.e.reconcile(context.Background(), at(r.now))
	sw := r.switches()
	if len(sw) != 1 || sw[0].Reason != ReasonKernel || r.e.active != "tap2" {
		t.Fatalf("switches %+v, active %s", sw, r.e.active)
	}
	r.play(10, 10, both(time.Millisecond))
	if len(r.b.steers) == 0 || r.b.steers[len(r.b.steers)-1] != "tap2" || r.b.announced != 1 {
		t.Errorf("steers %v, announced %d: want the primary on tap2 and the hub told", r.b.steers, r.b.announced)
	}
	hold := int(DefaultPolicy().HoldDown / time.Millisecond)
	r.play(hold-60, 10, both(time.Millisecond))
	if r.e.active != "tap2" {
		t.Fatalf("back on %s %d ms after the bond left tap1; want a hold-down of %d ms first", r.e.active, hold-50, hold)
	}
	r.play(100, 10, both(time.Millisecond))
	sw = r.switches()
	if r.e.active != "tap1" || sw[len(sw)-1].Reason != ReasonFailback {
		t.Errorf("active %s, last switch %+v: want a failback to tap1 after the hold-down", r.e.active, sw[len(sw)-1])
	}
}

// TestEngineKernelSwitchToDeadLink: a bond that moves by itself to a link
// the engine knows is dead is steered to the healthy one at once.
func TestEngineKernelSwitchToDeadLink(t *testing.T) {
	r := newRig(t)
	r.play(3000, 10, both(time.Millisecond))
	r.play(4000, 10, map[string]time.Duration{"tap1": time.Millisecond}) // tap2 dies (standby: 3 s of silence)
	if r.e.judges["tap2"].state != api.LinkDown {
		t.Fatalf("tap2 is %s, want down", r.e.judges["tap2"].state)
	}
	r.b.mu.Lock()
	r.b.active = "tap2"
	r.b.mu.Unlock()
	r.e.reconcile(context.Background(), at(r.now))
	r.play(10, 10, map[string]time.Duration{"tap1": time.Millisecond})
	if r.e.active != "tap1" || r.b.steers[len(r.b.steers)-1] != "tap1" {
		t.Errorf("active %s, steers %v: want the engine back on the live tap1 at once", r.e.active, r.b.steers)
	}
}

// TestEngineKernelSwitchToDegradedLink: a bond that moves by itself onto a
// degraded link while the other is healthy is steered back at once, its
// primary never set to the degraded one.
func TestEngineKernelSwitchToDegradedLink(t *testing.T) {
	r := newRig(t)
	r.play(3000, 10, both(time.Millisecond))
	r.e.mu.Lock()
	r.e.active, r.e.steered = "tap2", "tap2"
	r.e.mu.Unlock()
	r.b.mu.Lock()
	r.b.active = "tap2"
	r.b.mu.Unlock()
	slow := map[string]time.Duration{"tap1": 400 * time.Millisecond, "tap2": time.Millisecond}
	r.play(2000, 10, slow) // tap1 degraded by RTT, the engine on tap2
	if r.e.judges["tap1"].state != api.LinkDegraded || r.e.active != "tap2" {
		t.Fatalf("tap1 %s, active %s: want tap1 degraded, tap2 active", r.e.judges["tap1"].state, r.e.active)
	}
	n := len(r.b.steers)
	r.b.mu.Lock()
	r.b.active = "tap1" // the bond moves onto the slow link by itself
	r.b.mu.Unlock()
	r.e.reconcile(context.Background(), at(r.now))
	r.play(10, 10, slow)
	if r.e.active != "tap2" || slices.Contains(r.b.steers[n:], "tap1") {
		t.Errorf("active %s, steers since %v: want back on tap2 at once, the primary never on tap1", r.e.active, r.b.steers[n:])
	}
}

const deadDwellMs = int(deadDwell / time.Millisecond)

func TestEngineSteerFailureRetries(t *testing.T) {
	r := newRig(t)
	r.play(1000, 10, both(time.Millisecond))
	r.b.steerErr = errors.New("netlink: busy")
	r.play(200, 5, map[string]time.Duration{"tap2": time.Millisecond})
	if r.e.active != "tap1" || len(r.switches()) != 0 {
		t.Fatalf("a failed steer counted as a switch: active %s", r.e.active)
	}
	r.b.steerErr = nil
	r.play(10, 5, map[string]time.Duration{"tap2": time.Millisecond})
	if r.e.active != "tap2" {
		t.Errorf("no retry after the steer failed: active %s", r.e.active)
	}
}

func TestParseRequest(t *testing.T) {
	cur := DefaultPolicy()
	u, iv, err := ParseRequest([]byte(`{"pin":"tap2","policy":{"hold_down_ms":500,"loss_degraded":0.2},"probe_interval_ms":10}`), cur)
	if err != nil {
		t.Fatal(err)
	}
	if *u.Pin != "tap2" || u.Policy.HoldDown != 500*time.Millisecond || u.Policy.LossDegraded != 0.2 ||
		u.Policy.RTTMargin != cur.RTTMargin || iv.Active != 10*time.Millisecond || iv.Backup != 0 {
		t.Errorf("parsed %+v %+v %+v", u, u.Policy, iv)
	}
	for body, want := range map[string]time.Duration{`{"idle_interval_ms":0}`: NoIdle, `{"idle_interval_ms":250}`: 250 * time.Millisecond} {
		if _, iv, err := ParseRequest([]byte(body), cur); err != nil || iv.Idle != want || iv.Active != 0 {
			t.Errorf("%s: %+v, %v; want idle %s alone", body, iv, err, want)
		}
	}
	bad := map[string]string{
		`{}`:                                    "",
		`{"pni":"tap2"}`:                        "pni",
		`{"policy":{"hold_down":5}}`:            "policy.hold_down",
		`{"policy":{"loss_degraded":2}}`:        "policy.loss_degraded",
		`{"policy":{"loss_recovered":0.5}}`:     "policy.loss_recovered",
		`{"policy":{"rtt_factor":"3"}}`:         "policy.rtt_factor",
		`{"probe_interval_ms":1}`:               "probe_interval_ms",
		`{"idle_interval_ms":3}`:                "idle_interval_ms",
		`{"idle_interval_ms":-1}`:               "idle_interval_ms",
		`{"idle_interval_ms":60001}`:            "idle_interval_ms",
		`{"pin":"tap2"} {"pin":"tap1"}`:         "",
		`{"priority":"tap1"}`:                   "priority",
		`not json`:                              "",
		`{"policy":{"max_hold_down_ms":100}}`:   "policy.max_hold_down_ms",
		`{"policy":{"recover_rtt_factor":9.0}}`: "policy.recover_rtt_factor",
	}
	for body, field := range bad {
		_, _, err := ParseRequest([]byte(body), cur)
		if errkind.KindOf(err) != errkind.KindInvalid || errkind.FieldOf(err) != field {
			t.Errorf("%s: %v (field %q), want invalid on %q", body, err, errkind.FieldOf(err), field)
		}
	}
	v, _ := json.Marshal(cur.View())
	if !strings.Contains(string(v), `"hold_down_ms":2000`) {
		t.Errorf("policy view %s", v)
	}
}

// TestEngineAsksTheKernel: replies the daemon has not read yet (it was
// slowed down) but the kernel saw keep a link from being declared dead.
func TestEngineAsksTheKernel(t *testing.T) {
	r := newRig(t)
	r.play(1000, 10, both(time.Millisecond))
	// No samples reach the engine for 200 ms, but the kernel saw tap1's
	// replies all along.
	for end := r.now + 200; r.now < end; r.now += 5 {
		r.b.mu.Lock()
		r.b.kernel["tap1"] = at(r.now - 1)
		r.b.mu.Unlock()
		r.stepNow()
	}
	if sw := r.switches(); len(sw) != 0 {
		t.Fatalf("switched although the kernel saw replies: %+v", sw)
	}
	// The kernel sees nothing either, while tap2 answers: then it is dead.
	r.play(100, 5, map[string]time.Duration{"tap2": time.Millisecond})
	if sw := r.switches(); len(sw) != 1 || sw[0].Reason != ReasonDown {
		t.Errorf("switches %+v, want one for down", sw)
	}
}

// TestEngineStalledProberIsNotDeath: a daemon that sent no probes for a
// while (a stalled CPU) hears no replies; that silence is not the link's.
// Once probes go out again and stay unanswered, the link is dead within its
// dead time of the first of them.
func TestEngineStalledProberIsNotDeath(t *testing.T) {
	r := newRig(t)
	r.play(1000, 10, both(time.Millisecond))
	r.b.mu.Lock()
	r.b.sendsFrom["tap1"] = at(r.now + 400)
	r.b.mu.Unlock()
	r.play(400, 10, map[string]time.Duration{"tap2": time.Millisecond}) // tap1: nothing sent, nothing heard
	if s := r.e.judges["tap1"].state; s != api.LinkUp || len(r.switches()) != 0 {
		t.Fatalf("after 400 ms without probes tap1 is %v, switches %+v: want up, none", s, r.switches())
	}
	// Sending again from now on; nothing comes back.
	resumed := r.now
	for r.now < resumed+500 && len(r.switches()) == 0 {
		r.play(5, 5, map[string]time.Duration{"tap2": time.Millisecond})
	}
	dead := r.e.judges["tap1"].deadTime(r.e.pol)
	if sw := r.switches(); len(sw) != 1 || sw[0].Reason != ReasonDown {
		t.Fatalf("switches %+v, want one for down once probes went unanswered", sw)
	}
	if took := time.Duration(r.now-resumed) * time.Millisecond; took > dead+20*time.Millisecond {
		t.Errorf("declared dead %v after sending resumed, want within the dead time %v", took, dead)
	}
}

// TestEngineNextDeadline: with a link down (or never answering) the engine
// does not wake for nothing: its next evaluation is in the future.
func TestEngineNextDeadline(t *testing.T) {
	r := newRig(t)
	r.play(1000, 10, both(time.Millisecond))
	r.play(3000, 10, map[string]time.Duration{"tap2": time.Millisecond}) // tap1 down
	if next := r.stepNow(); !next.After(at(r.now)) {
		t.Errorf("with tap1 down the next evaluation is %v, not after now %v: a busy loop", next, at(r.now))
	}
	fresh := NewEngine(EngineOptions{Bond: "bond1", Links: []string{"tap3"}, Primary: "tap3",
		Policy: DefaultPolicy(), Steerer: r.b, Prober: r.b, Events: NewEvents(0)})
	now := time.Now().Add(time.Minute) // past the start-up grace, never answered
	if next := fresh.step(context.Background(), now); !next.After(now) {
		t.Errorf("a never-answering link: next %v, not after now", next)
	}
}

// TestEngineProbesAllWhileChoosing: a standby link that looked slow once
// (a CPU stall) stays at the standby rate while the active link is up; once
// the active link degrades, every link is probed at the active rate, so the
// standby's recovery shows and the engine leaves the degraded primary.
func TestEngineProbesAllWhileChoosing(t *testing.T) {
	r := newRig(t)
	ms := time.Millisecond
	r.play(1000, 10, both(ms))
	r.play(500, 10, map[string]time.Duration{"tap1": ms, "tap2": 300 * ms})
	if s := r.e.judges["tap2"].state; s != api.LinkDegraded {
		t.Fatalf("tap2 %v after 500 ms at 300 ms RTT, want degraded", s)
	}
	if r.b.fast["tap2"] {
		t.Errorf("probe rates %v: a degraded standby below a healthy active link is probed fast", r.b.fast)
	}
	// The primary degrades, tap2 is healthy again; as in the daemon, a
	// link's figures change only when it is probed: at once when fast, else
	// every 5 s (the standby rate).
	rtt := map[string]time.Duration{"tap1": 300 * ms, "tap2": ms}
	probed := map[string]int{}
	for end := r.now + 4000; r.now < end; r.now += 10 {
		for l, d := range rtt {
			if !r.b.fast[l] && r.now-probed[l] < 5000 {
				continue
			}
			probed[l] = r.now
			r.b.mu.Lock()
			r.b.fig[l] = probe.Figures{RTTLast: d, RTTSmoothed: d, RTTVar: d / 8, HasRTT: true, Decided: 50}
			r.b.mu.Unlock()
			r.e.take(probe.Sample{Bond: "bond0", Link: l, At: at(r.now), RTT: d})
		}
		r.stepNow()
		if r.e.judges["tap1"].state == api.LinkDegraded && r.e.active == "tap1" && !r.b.fast["tap2"] {
			t.Fatalf("at +%d ms probe rates %v with the active link degraded: want every link fast", r.now, r.b.fast)
		}
	}
	if sw := r.switches(); len(sw) != 1 || sw[0].To != "tap2" {
		t.Fatalf("switches %+v, want one to tap2 within 4 s of the primary degrading", sw)
	}
}

// TestEngineHostStallIsNotDeath: every link silent at once (busy CPUs
// starving the tunnels' processes) is the host, not the links: no link is
// declared down and traffic stays, until the stall limit.
func TestEngineHostStallIsNotDeath(t *testing.T) {
	r := newRig(t)
	r.play(1000, 10, both(time.Millisecond))
	r.play(600, 5, nil) // nothing comes back on any link, probes sent all along
	for _, l := range []string{"tap1", "tap2"} {
		if s := r.e.judges[l].state; s != api.LinkUp {
			t.Errorf("%s %v after 600 ms of silence on every link, want up (a host stall)", l, s)
		}
	}
	r.play(1000, 10, both(time.Millisecond))
	if sw := r.switches(); len(sw) != 0 {
		t.Fatalf("switches %+v after a host stall, want none", sw)
	}
	// Silent past the stall limit: down after all.
	r.play(1200, 5, nil)
	if s := r.e.judges["tap1"].state; s != api.LinkDown {
		t.Errorf("tap1 %v after 1.2 s of silence on every link, want down past the stall limit %v", s, hostStall)
	}
}

// TestEngineCutWithStandbyProbedSlowly: the active link is cut while the
// standby is probed at the standby rate; suspicion probes it at once, its
// reply proves the host is fine, and the switch comes at the dead time.
func TestEngineCutWithStandbyProbedSlowly(t *testing.T) {
	r := newRig(t)
	r.play(1000, 10, both(time.Millisecond))
	if r.b.fast["tap2"] {
		t.Fatalf("probe rates %v: the standby is probed fast with a healthy active link", r.b.fast)
	}
	cut := r.now
	probed := r.now // tap2 was just probed: at its rate, the next is 1 s away
	for r.now < cut+500 && len(r.switches()) == 0 {
		r.now += 5
		if r.now-cut >= 20 { // tap1's probes lost, the first at its next probe, then a burst
			r.e.take(probe.Sample{Bond: "bond0", Link: "tap1", At: at(r.now), Lost: true, Sent: at(r.now - 5)})
		}
		if r.b.fast["tap2"] && r.now-probed >= 20 || r.now-probed >= 1000 {
			probed = r.now
			r.e.take(probe.Sample{Bond: "bond0", Link: "tap2", At: at(r.now), RTT: time.Millisecond})
		}
		r.stepNow()
	}
	sw := r.switches()
	if len(sw) != 1 || sw[0].To != "tap2" || sw[0].Reason != ReasonDown {
		t.Fatalf("switches %+v, want one to tap2 for down", sw)
	}
	dead := r.e.judges["tap1"].deadTime(r.e.pol)
	if took := time.Duration(r.now-cut) * time.Millisecond; took > dead+20*time.Millisecond {
		t.Errorf("switched %v after the cut, want within the dead time %v and a probe interval", took, dead)
	}
}

// TestEngineWatch: a watched standby is probed at the active rate until
// released; the engine's own rate setting does not undo it.
func TestEngineWatch(t *testing.T) {
	r := newRig(t)
	r.play(500, 10, both(time.Millisecond))
	r.e.Watch("tap2", true)
	r.play(100, 10, both(time.Millisecond))
	if !r.b.fast["tap2"] {
		t.Errorf("probe rates %v: the watched standby is not probed fast", r.b.fast)
	}
	r.e.Watch("tap2", false)
	r.play(100, 10, both(time.Millisecond))
	if r.b.fast["tap2"] {
		t.Errorf("probe rates %v: the released standby is still probed fast", r.b.fast)
	}
}

// TestEngineSilentStandbyGoesDown: a standby (probed every second in the
// rig) that stops answering while the active link answers is suspect at
// half its dead time (three intervals), probed fast then, and down
// within its dead time.
func TestEngineSilentStandbyGoesDown(t *testing.T) {
	r := newRig(t)
	r.play(2000, 10, both(time.Millisecond))
	dead := r.e.judges["tap2"].deadTime(r.e.pol)
	stopped := r.now
	for r.now < stopped+10000 && r.e.judges["tap2"].state != api.LinkDown {
		r.play(10, 10, map[string]time.Duration{"tap1": time.Millisecond})
	}
	if took := time.Duration(r.now-stopped) * time.Millisecond; r.e.judges["tap2"].state != api.LinkDown || took > dead {
		t.Errorf("standby %v %v after it stopped answering, want down within its dead time %v", r.e.judges["tap2"].state, took, dead)
	}
}

// fakePressure is a constant CPU pressure.
type fakePressure float64

func (w fakePressure) Waiting() float64 { return float64(w) }

func TestStretchFor(t *testing.T) {
	for _, c := range []struct{ w, want float64 }{
		{0, 1}, {0.2, 1}, {busyHost, minStretch}, {(1 + busyHost) / 2, (minStretch + maxStretch) / 2}, {1, maxStretch}, {3, maxStretch},
	} {
		if got := stretchFor(c.w); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("stretchFor(%v) = %v, want %v", c.w, got, c.want)
		}
	}
}

// TestEngineBusyHostStretchesDeadTime: on a busy host a link silent a
// little past its dead time (a tunnel process waiting for a CPU) is not
// left, and a real cut is left within maxStretch times the dead time.
func TestEngineBusyHostStretchesDeadTime(t *testing.T) {
	r := newRig(t)
	r.e.press = fakePressure(1)
	r.play(1000, 10, both(time.Millisecond))
	dead := r.e.judges["tap1"].deadTime(r.e.pol)
	late := r.now
	r.play(int(time.Duration(float64(dead)*1.6)/time.Millisecond), 5, map[string]time.Duration{"tap2": time.Millisecond})
	r.play(500, 10, both(time.Millisecond))
	if sw := r.switches(); len(sw) != 0 {
		t.Fatalf("tap1 silent for %d ms on a busy host (dead time %v): switches %+v, want none", r.now-late-500, dead, sw)
	}
	cut := r.now
	for r.now < cut+1000 && len(r.switches()) == 0 {
		r.play(5, 5, map[string]time.Duration{"tap2": time.Millisecond})
	}
	took := time.Duration(r.now-cut) * time.Millisecond
	if sw := r.switches(); len(sw) != 1 || took > time.Duration(float64(dead)*maxStretch)+20*time.Millisecond {
		t.Errorf("a cut on a busy host: switches %+v after %v, want one within %v", sw, took, time.Duration(float64(dead)*maxStretch))
	}
}
