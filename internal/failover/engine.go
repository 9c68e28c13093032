package failover

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/probe"
)

// Steerer moves a bond's traffic; the gateway adapts its bond.Driver.
type Steerer interface {
	// Steer makes link the bond's active link (kernel bond: primary, so
	// the kernel's own monitor agrees; eBPF bond: one map write).
	Steer(ctx context.Context, bond, link string) error
	// Active is the link the bond uses now ("" if none).
	Active(ctx context.Context, bond string) (string, error)
	// Announce tells the hub at once where the bond is now (a gratuitous
	// ARP from the bond's address), so traffic to the gateway follows.
	Announce(ctx context.Context, bond string) error
}

// Duplicator is a Steerer that can also send a copy of every frame the
// bond sends over a second link (selective redundancy: while the active
// link is suspect, a cut loses nothing, docs/redundancy.md). The eBPF bond
// can; a Steerer without it, or whose bond refuses (errkind.Unsupported:
// the kernel bond), is steered without.
type Duplicator interface {
	// Duplicate makes the bond send copies on link ("": stop). A switch
	// to that link ends the copies by itself.
	Duplicate(ctx context.Context, bond, link string) error
	// Duplicating names the link the bond copies to now ("": none).
	Duplicating(ctx context.Context, bond string) (string, error)
}

// Prober is what the engine needs of the probe monitor.
type Prober interface {
	Figures(link string) (probe.Figures, time.Duration, bool)
	SetActive(link string, fast bool) error
	// SetCarrying says whether link carries the bond's traffic: only then
	// may it be probed at the idle interval while it sends no data (a
	// link probed fast to choose among links must answer at once).
	SetCarrying(link string, carrying bool) error
	// LastReply is when the kernel last saw a reply on link: checked
	// before a link is declared down, since a daemon slowed down (a busy
	// CPU) may not have read the replies that did arrive.
	LastReply(link string) time.Time
	// FirstSentAfter is when the first probe out of link after t was
	// sent (zero if none): a link is dead only if it was asked.
	FirstSentAfter(link string, t time.Time) time.Time
	// SetSuspect says whether link, probed fast, is probed at the burst
	// rate (its loss looks high: the loss test wants many samples soon).
	SetSuspect(link string, suspect bool) error
}

// deadDwell is how long after a switch the engine waits before it moves
// on again from a dead active link when no link is up.
const deadDwell = 500 * time.Millisecond

// reconcileEvery is how often the engine checks which link the bond really
// uses (the kernel bond may switch by itself).
const reconcileEvery = 500 * time.Millisecond

// Engine decides which link one bond uses and acts on it. Its methods are
// safe for concurrent use; Run does the work.
type Engine struct {
	bond    string
	steer   Steerer
	prober  Prober
	press   Pressure
	events  *Events
	log     *slog.Logger
	samples chan probe.Sample
	kick    chan struct{}

	mu        sync.Mutex
	links     []string // slave order
	primary   string   // the configured primary: first in priority
	priority  []string // explicit order from the policy, if set
	pol       Policy
	pin       string
	manual    bool // the next switch is the operator's doing
	judges    map[string]*judge
	active    string
	switched  time.Time // the last switch
	steered   string    // the link the engine last set as the bond's primary
	left      string    // the link the bond last left by itself, at kernelAt
	kernelAt  time.Time
	failovers map[string]uint64 // by reason
	watched   map[string]bool   // links probed at the active rate whatever their rank (Watch)
	resume    bool              // Run resumes a bond that was forwarding (EngineOptions.Resume)

	// Selective redundancy: the link the bond copies its frames to (""
	// none) since dupSince; noDup once the bond has refused; the links
	// never used for copies (the policy's only_when_needed).
	dup        string
	dupSince   time.Time
	noDup      bool
	onlyNeeded []string
}

// EngineOptions configures an Engine.
type EngineOptions struct {
	Bond    string
	Links   []string // the bond's links (TAPs) in slave order
	Primary string   // the configured primary; first in priority
	Policy  Policy
	Steerer Steerer
	Prober  Prober
	Events  *Events
	Logger  *slog.Logger
	// Pressure tells a busy host (nil: never busy).
	Pressure Pressure
	// Resume: the bond was forwarding before this engine (a data plane a
	// previous daemon left and this one adopted). Its active link starts
	// up, judged from now, and every other link must pass a full hold-down
	// of good health before it is up: the restart itself never causes a
	// switch, and a dead active link is still left within its dead time.
	Resume bool
}

// Pressure is the host's CPU pressure (package pressure).
type Pressure interface {
	// Waiting is the share of the last second some task waited for a CPU.
	Waiting() float64
}

// busyHost is the CPU pressure from which the host counts as busy: a
// link's dead time is then stretched before it is declared down, by
// minStretch at busyHost up to maxStretch when some task waits for a CPU
// all the time. Replies that cross user-space tunnels come late when
// their processes wait for a CPU (a 5-minute load run saw 95 ms of
// silence on a healthy link with a 60 ms dead time); a busy host's cut is
// still left within twice the idle detection time.
const (
	busyHost   = 0.25
	minStretch = 1.5
	maxStretch = 1.8
)

// stretchFor is the dead-time factor at CPU pressure w (0 to 1).
func stretchFor(w float64) float64 {
	if w < busyHost {
		return 1
	}
	w = min(w, 1)
	return minStretch + (maxStretch-minStretch)*(w-busyHost)/(1-busyHost)
}

// NewEngine returns an engine for one bond; Run starts it.
func NewEngine(o EngineOptions) *Engine {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		bond: o.Bond, links: slices.Clone(o.Links), primary: o.Primary, pol: o.Policy,
		steer: o.Steerer, prober: o.Prober, press: o.Pressure, events: o.Events, log: log.With("bond", o.Bond),
		samples: make(chan probe.Sample, 1024), kick: make(chan struct{}, 1),
		judges: map[string]*judge{}, failovers: map[string]uint64{}, watched: map[string]bool{},
		resume: o.Resume,
	}
	now := time.Now()
	for _, l := range o.Links {
		_, iv, _ := o.Prober.Figures(l)
		e.judges[l] = newJudge(now, iv, e.firstSentOf(l))
	}
	return e
}

// Sample hands the engine one of its links' probe samples.
func (e *Engine) Sample(s probe.Sample) {
	select {
	case e.samples <- s:
	default: // the engine is behind; the next evaluation catches up
	}
}

func (e *Engine) poke() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Run decides and acts until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	if a, err := e.steer.Active(ctx, e.bond); err == nil {
		e.mu.Lock()
		e.active, e.steered = a, a
		if e.resume {
			e.resumeJudges(a, time.Now())
		}
		e.mu.Unlock()
	}
	e.adoptDuplicate(ctx, time.Now())
	e.setProbeRates(time.Now())
	timer := time.NewTimer(0)
	defer timer.Stop()
	reconcile := time.NewTicker(reconcileEvery)
	defer reconcile.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-e.samples:
			e.take(s)
		drain:
			for {
				select {
				case s := <-e.samples:
					e.take(s)
				default:
					break drain
				}
			}
		case <-reconcile.C:
			e.reconcile(ctx, time.Now())
		case <-e.kick:
		case <-timer.C:
		}
		next := e.step(ctx, time.Now())
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(time.Until(next), time.Millisecond))
	}
}

// firstSentOf asks the prober when link's first probe after a time left.
func (e *Engine) firstSentOf(link string) func(time.Time) time.Time {
	return func(after time.Time) time.Time { return e.prober.FirstSentAfter(link, after) }
}

// take feeds a sample to its link's judge.
func (e *Engine) take(s probe.Sample) {
	fig, iv, ok := e.prober.Figures(s.Link)
	e.mu.Lock()
	defer e.mu.Unlock()
	j := e.judges[s.Link]
	if j == nil || !ok {
		return
	}
	j.setInterval(iv, s.At)
	if s.Resumed {
		return // data on an idle link: its faster probing counts from s.At
	}
	j.sample(s, fig, e.pol)
}

// order is the links in priority order: the policy's, else the primary
// first and the others in slave order.
func (e *Engine) order() []string {
	if len(e.priority) > 0 {
		return e.priority
	}
	out := make([]string, 0, len(e.links))
	if slices.Contains(e.links, e.primary) {
		out = append(out, e.primary)
	}
	for _, l := range e.links {
		if l != e.primary {
			out = append(out, l)
		}
	}
	return out
}

// step evaluates every link at now, switches if the decision says so, and
// returns when to look again at the latest.
func (e *Engine) step(ctx context.Context, now time.Time) time.Time {
	e.mu.Lock()
	next := now.Add(time.Second)
	var cands []candidate
	dying := false
	for _, l := range e.order() {
		j := e.judges[l]
		if fig, iv, ok := e.prober.Figures(l); ok {
			j.fig = fig
			j.setInterval(iv, now)
		}
		dying = dying || j.state != api.LinkDown && j.lastReply.After(time.Time{}) &&
			(j.silence(now) > j.deadTime(e.pol) || j.lossRun > 0)
		// The active link looks suspect: replies the prober has not read
		// yet (a fast link's wait in the ring, up to an interval) are not
		// silence either, and a suspicion probes every link fast.
		dying = dying || l == e.active && j.suspect(now, e.pol)
	}
	if dying {
		// A link is about to be declared dead, or the active one suspect:
		// ask the kernel for every link's last reply first (replies the
		// daemon has not read yet are not silence, and another link's
		// decide whether it is a host stall).
		for _, l := range e.links {
			if j := e.judges[l]; j != nil {
				if at := e.prober.LastReply(l); at.After(j.lastReply) {
					j.lastReply = at
				}
			}
		}
	}
	stretch := 1.0
	if dying && e.press != nil {
		stretch = stretchFor(e.press.Waiting())
	}
	revived := false
	for _, l := range e.order() {
		j := e.judges[l]
		o := e.othersOf(l)
		o.stretch = stretch
		if l == e.active && j.revived {
			revived = true
		}
		j.revived = false
		if j.evaluate(now, e.pol, o) {
			e.log.Info("link state", "link", l, "state", j.state, "reason", j.reason)
			e.events.add(Event{At: now, Bond: e.bond, Kind: api.EventState, Link: l, State: j.state, Detail: j.reason, Signal: j.signal})
		}
		if d := j.nextDeadline(now, e.pol, o); !d.IsZero() && d.Before(next) {
			next = d
		}
		cands = append(cands, candidate{name: l, state: j.state, score: score(j), rtt: j.rttBad(e.pol)})
	}
	// Moves between bad links wait: a hold-down after the last switch while
	// the active link is degraded, deadDwell while it is down (a stalled CPU
	// makes every link look dead at once for a moment).
	wait := e.pol.HoldDown
	if j := e.judges[e.active]; j != nil && j.state != api.LinkDegraded {
		wait = min(wait, deadDwell)
	}
	settled := now.Sub(e.switched) >= wait
	if until := e.switched.Add(wait); !settled && until.Before(next) {
		next = until
	}
	target, reason := decide(cands, e.active, e.pin, e.pol.Stickiness, settled)
	if reason == ReasonFailback && target == e.left {
		// The bond's own monitor left this link: back to it only once it
		// has been up, by our probes, for a hold-down since.
		if until := e.kernelAt.Add(e.pol.HoldDown); now.Before(until) {
			target, reason = e.active, ""
			if until.Before(next) {
				next = until
			}
		}
	}
	if e.manual {
		// The operator changed the pin or the priority: a switch that
		// follows at once is theirs.
		if reason != "" {
			reason = ReasonManual
		}
		e.manual = false
	}
	from := e.active
	var ev Event
	if reason != "" {
		ev = e.switchEvent(now, from, target, reason)
	}
	// Staying on a link the bond chose by itself: its primary follows, or
	// the kernel would return to the old primary past hold-down and flap
	// damping the moment it answers again.
	align := reason == "" && e.active != "" && e.active != e.steered
	wantDup := ""
	if reason == "" {
		wantDup = e.dupTarget(now)
	}
	e.mu.Unlock()
	if reason != "" {
		e.act(ctx, ev)
	} else if align {
		e.align(ctx, target)
	}
	e.duplicate(ctx, now, wantDup)
	if revived && reason == "" {
		// The active link answers again after a silence past its dead
		// time, and the bond stayed on it (every link was silent): the
		// hub's neighbours may have given up on the bond's address
		// meanwhile, and their ARP retries are a second apart; tell them
		// at once.
		if err := e.steer.Announce(ctx, e.bond); err != nil {
			e.log.Warn("announce the revived link to the hub", "err", err)
		}
	}
	e.setProbeRates(now)
	return next
}

// othersOf is what link's judge knows of the bond's other links.
func (e *Engine) othersOf(link string) others {
	var o others
	for l, j := range e.judges {
		if l == link {
			continue
		}
		o.any = true
		if j.lastReply.After(o.heard) {
			o.heard = j.lastReply
		}
	}
	return o
}

// score ranks degraded links: lower is better.
func score(j *judge) time.Duration {
	return j.fig.RTTSmoothed + 4*j.fig.RTTVar + time.Duration(j.fig.Loss*float64(time.Second))
}

// switchEvent describes a switch, with how long the problem took to see.
func (e *Engine) switchEvent(now time.Time, from, to, reason string) Event {
	ev := Event{At: now, Bond: e.bond, Kind: api.EventSwitch, From: from, To: to, Reason: reason}
	if j := e.judges[from]; j != nil {
		ev.Detail = j.reason
		switch reason {
		case ReasonDown, ReasonRTT, ReasonLoss:
			ev.Signal = j.signal
		}
		switch reason {
		case ReasonDown:
			if !j.lastReply.IsZero() {
				ev.Detection = now.Sub(j.lastReply)
			}
		case ReasonRTT, ReasonLoss:
			if since := j.detectedSince(); !since.IsZero() {
				ev.Detection = now.Sub(since)
			}
		}
	}
	if e.dup != "" && e.dup == to {
		ev.Redundancy = now.Sub(e.dupSince)
	}
	if j := e.judges[to]; j != nil && reason == ReasonFailback {
		ev.Detail = "up again, hold-down over: " + j.reason
	}
	return ev
}

// dupTarget is the link the bond should copy its frames to now: from
// the moment the active link, up, has lost its last dupRun probes in a
// row until a reply or the engine's decision, the highest-ranked other
// link that is up and not only_when_needed; none otherwise (nor with a
// pin: the operator chose one link). e.mu held.
func (e *Engine) dupTarget(now time.Time) string {
	j := e.judges[e.active]
	if e.noDup || e.pin != "" || j == nil || j.state != api.LinkUp || j.lossRun < j.dupRun() {
		return ""
	}
	for _, l := range e.order() {
		if l != e.active && e.judges[l].state == api.LinkUp && !slices.Contains(e.onlyNeeded, l) {
			return l
		}
	}
	return ""
}

// adoptDuplicate takes over the copies an earlier daemon left the bond
// making (it stopped while the active link was suspect, and the bond
// kept copying meanwhile): the engine then ends them, with their grace,
// once it does not want them, instead of the bond copying every frame
// until the next suspicion.
func (e *Engine) adoptDuplicate(ctx context.Context, now time.Time) {
	d, ok := e.steer.(Duplicator)
	if !ok {
		return
	}
	link, err := d.Duplicating(ctx, e.bond)
	switch {
	case err != nil:
		e.log.Warn("ask the bond whether it copies its frames", "err", err)
		return
	case link == "":
		return
	}
	e.mu.Lock()
	e.dup, e.dupSince = link, now
	e.mu.Unlock()
	e.log.Info("the bond was copying its frames when the engine started: taken over", "to", link)
}

// duplicate makes the bond copy its frames to want ("": stop) if it does
// not already; a bond that cannot is not asked again.
func (e *Engine) duplicate(ctx context.Context, now time.Time, want string) {
	e.mu.Lock()
	have, no := e.dup, e.noDup
	e.mu.Unlock()
	if no || want == have {
		return
	}
	d, ok := e.steer.(Duplicator)
	if !ok {
		e.mu.Lock()
		e.noDup = true
		e.mu.Unlock()
		return
	}
	err := d.Duplicate(ctx, e.bond, want)
	if !e.noteDuplicate(now, have, want, err) {
		return
	}
	// Tell the hub at once: at the start the announcement goes out on both
	// links, so if the active one is cut the hub's bridge learns the bond
	// on the other before any data frame comes (its traffic to the gateway
	// follows); at the end it goes out on the active link alone, so the
	// bridge does not keep sending over the link copied to, whose frames
	// the bond takes no longer.
	if err := e.steer.Announce(ctx, e.bond); err != nil {
		e.log.Warn("announce the bond to the hub", "err", err)
	}
}

// noteDuplicate records the outcome of asking the bond to copy to want
// (from have) and says whether it took it.
func (e *Engine) noteDuplicate(now time.Time, have, want string, err error) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case errkind.KindOf(err) == errkind.KindUnsupported:
		e.noDup = true
		e.log.Info("no selective redundancy: the bond cannot copy frames", "err", err)
		return false
	case err != nil:
		e.log.Warn("copy the bond's frames", "to", want, "err", err)
		return false
	case want != "":
		e.log.Info("copying the bond's frames while the active link is suspect", "to", want, "active", e.active)
		e.dup, e.dupSince = want, now
	default:
		e.log.Info("stopped copying the bond's frames", "to", have, "after", now.Sub(e.dupSince))
		e.dup = ""
	}
	return true
}

// act steers the bond and records the switch.
func (e *Engine) act(ctx context.Context, ev Event) {
	start := time.Now()
	if err := e.steer.Steer(ctx, e.bond, ev.To); err != nil {
		e.log.Error("switch link", "from", ev.From, "to", ev.To, "reason", ev.Reason, "err", err)
		return
	}
	ev.Switch = time.Since(start)
	if err := e.steer.Announce(ctx, e.bond); err != nil {
		e.log.Warn("announce the switch to the hub", "err", err)
	}
	e.mu.Lock()
	e.active, e.steered = ev.To, ev.To
	e.switched = ev.At
	e.left = ""
	if e.dup == ev.To {
		// The bond stopped copying as it switched to that link.
		e.dup = ""
	}
	e.failovers[ev.Reason]++
	e.mu.Unlock()
	e.events.add(ev)
	e.log.Info("switched link", "from", ev.From, "to", ev.To, "reason", ev.Reason, "detail", ev.Detail,
		"detection", ev.Detection, "switch", ev.Switch)
}

// setProbeRates probes at the active rate the active link and every link
// ranked above it that is not up (down, unknown, degraded or in its
// hold-down): those would take over as soon as they are healthy, and at the
// standby rate their recovery would take seconds to show. Proven at the
// active rate, failback is make-before-break. The preferred links are
// normally the cheap ones (WiFi before 5G); the links ranked below the
// active one stay at the standby rate while the active link is up. While
// it is not, every link is probed at the active rate: the engine is about
// to choose among them, and a standby link's figures at the standby rate
// are seconds old (one that a CPU stall made look slow would stay
// "degraded" for that long, and keep the engine on a lossy primary). The
// same holds from the moment the active link is suspect (silent for half
// its dead time): a standby's fresh reply tells a cut from a host stall.
// Only the active link of a settled bond carries its traffic and may be
// probed at the idle interval while it sends none; while the engine is
// choosing, no link may (each must answer at once). An up active link
// whose loss test is raised (lossTest.suspect) is probed at the burst
// rate until it clears or the link is left: its loss is decided on many
// probes within some tens of milliseconds, while a healthy link with a
// few percent of loss costs the burst rate rarely and briefly.
func (e *Engine) setProbeRates(now time.Time) {
	e.mu.Lock()
	fast := map[string]bool{e.active: true}
	for l := range e.watched {
		fast[l] = true
	}
	j := e.judges[e.active]
	choosing := j != nil && (j.state != api.LinkUp || j.suspect(now, e.pol))
	for _, l := range e.order() {
		if e.judges[l].suspect(now, e.pol) {
			fast[l] = true // a standby that missed its replies: confirmed or cleared at once
		}
	}
	for _, l := range e.order() {
		if l == e.active && !choosing {
			break
		}
		if choosing || e.judges[l].state != api.LinkUp {
			fast[l] = true
		}
	}
	links := slices.Clone(e.links)
	carrier := e.active
	if choosing {
		carrier = ""
	}
	lossy := ""
	if j != nil && j.state == api.LinkUp && j.loss.suspect() {
		lossy = e.active
	}
	e.mu.Unlock()
	for _, l := range links {
		if err := e.prober.SetCarrying(l, l == carrier); err != nil {
			e.log.Debug("set probe rate", "link", l, "err", err)
		}
		if err := e.prober.SetSuspect(l, l == lossy); err != nil {
			e.log.Debug("set probe rate", "link", l, "err", err)
		}
		if err := e.prober.SetActive(l, fast[l]); err != nil {
			e.log.Debug("set probe rate", "link", l, "err", err)
		}
	}
}

// align sets the bond's primary to link, the active one, without a switch.
func (e *Engine) align(ctx context.Context, link string) {
	if err := e.steer.Steer(ctx, e.bond, link); err != nil {
		e.log.Debug("keep the bond's primary on the link it chose", "link", link, "err", err)
		return
	}
	e.mu.Lock()
	if e.active == link {
		e.steered = link
	}
	e.mu.Unlock()
}

// reconcile notices a switch the bond made by itself (the kernel bond's
// ARP monitor saw the active link die before the engine did, or thought
// so), records it and tells the hub. The engine's own decision then
// rules: it steers back if it rates the link the bond left better, else it
// stays and sets the bond's primary to the link the bond chose (step), and
// a return to the link left waits for a hold-down from now.
func (e *Engine) reconcile(ctx context.Context, now time.Time) {
	a, err := e.steer.Active(ctx, e.bond)
	if err != nil || a == "" {
		return
	}
	e.mu.Lock()
	from := e.active
	if a == from {
		e.mu.Unlock()
		return
	}
	e.active = a
	e.left, e.kernelAt = from, now
	e.failovers[ReasonKernel]++
	e.mu.Unlock()
	e.events.add(Event{At: now, Bond: e.bond, Kind: api.EventSwitch, From: from, To: a, Reason: ReasonKernel,
		Detail: "the bond switched by itself"})
	e.log.Info("bond switched by itself", "from", from, "to", a)
	if err := e.steer.Announce(ctx, e.bond); err != nil {
		e.log.Warn("announce the switch to the hub", "err", err)
	}
}
