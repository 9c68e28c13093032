package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/bond"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/failover"
	"github.com/multilink/multilink/internal/pressure"
	"github.com/multilink/multilink/internal/probe"
)

// dataplane is what the gateway runs besides its tunnels: the bond
// drivers, the eBPF probe on every link, the failover engine of every bond
// and the steering of the engines' decisions into the bonds. The Gateway
// starts and stops a bond's share of it with the bond (bondWatcher).
type dataplane struct {
	log      *slog.Logger
	nl       *netlink.Handle
	kernel   *bond.Kernel
	ebpf     *bond.EBPF
	bonds    *bond.Chooser
	monitor  *probe.Monitor
	brain    *failover.Manager
	policy   failover.Policy // for new bonds
	noEngine bool
	cpu      *pressure.CPU      // nil: the kernel has no PSI
	stopCPU  context.CancelFunc // ends cpu's sampling

	mu        sync.Mutex
	addresses map[string]BondUp // by bond: what Announce needs
}

// DataplaneOptions are the data plane's settings (flags and config file).
type DataplaneOptions struct {
	BondDriver string          // api.DriverAuto, DriverKernel, DriverEBPF
	NoFailover bool            // probe, but leave failover to the bond (the kernel's ARP monitor)
	Probe      json.RawMessage // the config file's probe: section
	Policy     json.RawMessage // its policy: section
	// PinDir: where the eBPF bond and the probe pin their programs, maps
	// and links under bpffs so that they outlive the daemon ("": nothing
	// is pinned; eBPF objects end with the daemon).
	PinDir string
}

// probeSettings is the config file's probe: section.
type probeSettings struct {
	IntervalMs       float64 `json:"interval_ms"`
	BackupIntervalMs float64 `json:"backup_interval_ms"`
	// IdleIntervalMs: absent, probe.DefaultIdleInterval (or interval_ms
	// if longer); 0, none.
	IdleIntervalMs *float64 `json:"idle_interval_ms"`
	Attach         string   `json:"attach"`
}

// settings decodes and checks the config file's probe: and policy:
// sections, as the daemon applies them.
func settings(probeSection, policySection json.RawMessage) (probe.Options, failover.Policy, error) {
	var ps probeSettings
	if len(probeSection) > 0 {
		if err := api.DecodeStrict(probeSection, &ps); err != nil {
			return probe.Options{}, failover.Policy{}, fmt.Errorf("config probe: %w", err)
		}
	}
	policy := failover.DefaultPolicy()
	if len(policySection) > 0 {
		p, err := failover.ParsePolicy(policySection, policy)
		if err != nil {
			return probe.Options{}, failover.Policy{}, fmt.Errorf("config policy: %w", err)
		}
		policy = p
	}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	idle := probe.DefaultIdleInterval
	if ps.IdleIntervalMs != nil {
		idle = ms(*ps.IdleIntervalMs)
	} else if iv := ms(ps.IntervalMs); iv > idle {
		idle = iv
	}
	po, err := probe.Options{Interval: ms(ps.IntervalMs), BackupInterval: ms(ps.BackupIntervalMs), IdleInterval: idle, Attach: ps.Attach}.Checked()
	if err != nil {
		return probe.Options{}, failover.Policy{}, fmt.Errorf("config probe: %w", err)
	}
	return po, policy, nil
}

// CheckSettings checks the config file's probe: and policy: sections by
// the daemon's rules, making nothing (multilink config check).
func CheckSettings(probeSection, policySection json.RawMessage) error {
	_, _, err := settings(probeSection, policySection)
	return err
}

func newDataplane(o DataplaneOptions, nl *netlink.Handle, log *slog.Logger) (*dataplane, error) {
	po, policy, err := settings(o.Probe, o.Policy)
	if err != nil {
		return nil, err
	}
	po.Logger = log
	po.PinDir = pinSub(o.PinDir, "probe")
	monitor, err := probe.NewMonitor(po)
	if err != nil {
		return nil, fmt.Errorf("config probe: %w", err)
	}
	s := &dataplane{log: log, nl: nl, monitor: monitor, policy: policy, noEngine: o.NoFailover, addresses: map[string]BondUp{}}
	s.kernel = bond.NewKernel(nl, log)
	if s.ebpf, err = bond.NewEBPF(nl, netns.None(), po.Attach, pinSub(o.PinDir, "bond"), log); err != nil {
		monitor.Close()
		return nil, err
	}
	if s.bonds, err = bond.NewChooser(s.kernel, s.ebpf, o.BondDriver); err != nil {
		_ = errors.Join(monitor.Close(), s.ebpf.Close(), s.kernel.Close())
		return nil, fmt.Errorf("--bond-driver: %w", err)
	}
	s.brain = failover.NewManager(monitor, log)
	s.stopCPU = func() {}
	if cpu, err := pressure.NewCPU(""); err != nil {
		log.Warn("no CPU pressure figures: the engine cannot tell a busy host from a slow link", "err", err)
	} else {
		ctx, cancel := context.WithCancel(context.Background())
		s.cpu, s.stopCPU = cpu, cancel
		go cpu.Run(ctx)
	}
	return s, nil
}

// Up starts probing a new bond's links and deciding for it.
func (s *dataplane) Up(ctx context.Context, b BondUp) error {
	var added []string
	undo := func() {
		for _, t := range added {
			_ = s.monitor.Remove(t)
		}
	}
	for _, t := range b.Taps {
		if err := s.monitor.Add(ctx, probe.LinkSpec{Bond: b.Bond, Link: t, Target: b.Target, Active: t == b.Primary}); err != nil {
			undo()
			return fmt.Errorf("probe %s: %w", t, err)
		}
		added = append(added, t)
	}
	// Set before the engine starts: its first steer announces through it.
	s.mu.Lock()
	s.addresses[b.Bond] = b
	s.mu.Unlock()
	if s.noEngine {
		s.log.Warn("failover engine off (--no-failover): the bond's own monitor decides", "bond", b.Bond)
		return nil
	}
	err := s.brain.Add(ctx, failover.EngineOptions{Bond: b.Bond, Links: b.Taps, Primary: b.Primary,
		Policy: s.policy, Steerer: steerer{s}, Prober: s.monitor, Pressure: s.pressure(), Resume: b.Resumed})
	if err != nil {
		undo()
		s.mu.Lock()
		delete(s.addresses, b.Bond)
		s.mu.Unlock()
		return fmt.Errorf("failover engine: %w", err)
	}
	return nil
}

// Down stops deciding for a bond and probing its links.
func (s *dataplane) Down(ctx context.Context, name string) {
	s.brain.Remove(name)
	s.mu.Lock()
	b := s.addresses[name]
	delete(s.addresses, name)
	s.mu.Unlock()
	for _, t := range b.Taps {
		if err := s.monitor.Remove(t); err != nil && errkind.KindOf(err) != errkind.KindNotFound {
			s.log.Warn("stop probing", "link", t, "err", err)
		}
	}
}

// Primary makes the operator's new primary the first in the bond's ranking.
func (s *dataplane) Primary(name, tap string) {
	if e, ok := s.brain.Engine(name); ok {
		if err := e.Apply(failover.Update{Primary: &tap}); err != nil {
			s.log.Warn("new primary not taken by the failover engine", "bond", name, "primary", tap, "err", err)
		}
	}
}

// Links implements restapi.Links.
func (s *dataplane) Links() []api.LinkStats {
	links := s.monitor.Links()
	out := make([]api.LinkStats, len(links))
	for i, l := range links {
		out[i] = l.API()
	}
	return out
}

// Policy implements restapi.Failover.
func (s *dataplane) Policy(_ context.Context, name string) (api.PolicyStatus, error) {
	e, ok := s.brain.Engine(name)
	if !ok {
		return api.PolicyStatus{}, errkind.NotFound("no client with bond %s is started", name)
	}
	return s.policyStatus(e), nil
}

func (s *dataplane) policyStatus(e *failover.Engine) api.PolicyStatus {
	active, backup, idle := s.monitor.Intervals()
	return api.PolicyStatus{FailoverStatus: e.Status(), ProbeIntervalMs: msf(active), BackupIntervalMs: msf(backup), IdleIntervalMs: msf(idle)}
}

// SetPolicy implements restapi.Failover: everything is validated before
// anything changes.
func (s *dataplane) SetPolicy(_ context.Context, name string, body []byte) (api.PolicyStatus, error) {
	e, ok := s.brain.Engine(name)
	if !ok {
		return api.PolicyStatus{}, errkind.NotFound("no client with bond %s is started", name)
	}
	u, iv, err := failover.ParseRequest(body, e.Policy())
	if err != nil {
		return api.PolicyStatus{}, err
	}
	active, backup, idle := s.monitor.Intervals()
	if iv.Active > 0 {
		active = iv.Active
	}
	if iv.Backup > 0 {
		backup = iv.Backup
	}
	switch {
	case iv.Idle == failover.NoIdle:
		idle = 0
	case iv.Idle > 0:
		idle = iv.Idle
	}
	if idle != 0 && idle < active {
		return api.PolicyStatus{}, errkind.Invalid("idle_interval_ms", "%g is below probe_interval_ms %g: an idle link is probed more slowly, or set 0 for none", msf(idle), msf(active))
	}
	if err := e.Check(u); err != nil {
		return api.PolicyStatus{}, err
	}
	if err := s.monitor.SetIntervals(active, backup, idle); err != nil {
		return api.PolicyStatus{}, err
	}
	if err := e.Apply(u); err != nil {
		return api.PolicyStatus{}, err
	}
	return s.policyStatus(e), nil
}

// Events implements restapi.Failover.
func (s *dataplane) Events(bond string, limit int) []api.Event {
	events := s.brain.Events().List(bond, limit)
	out := make([]api.Event, len(events))
	for i, e := range events {
		out[i] = e.API()
	}
	return out
}

// WatchEvents implements restapi.Failover: the kept events, then each new
// one until ctx ends (the channel is then closed).
func (s *dataplane) WatchEvents(ctx context.Context, bond string, limit int) ([]api.Event, <-chan api.Event, func() bool) {
	past, in, missed, stop := s.brain.Events().Watch(bond, limit)
	out := make(chan api.Event)
	go func() {
		defer close(out)
		defer stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- e.API():
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	list := make([]api.Event, len(past))
	for i, e := range past {
		list[i] = e.API()
	}
	return list, out, missed
}

// pressure is the engines' CPU pressure (nil without PSI).
func (s *dataplane) pressure() failover.Pressure {
	if s.cpu == nil {
		return nil
	}
	return s.cpu
}

// Close stops the engines and the probe and unloads the programs.
func (s *dataplane) Close() error {
	s.stopCPU()
	s.brain.Close()
	return errors.Join(s.monitor.Close(), s.ebpf.Close(), s.kernel.Close())
}

// steerer moves a bond's traffic through its driver.
type steerer struct{ s *dataplane }

// switchGrace is the least time after a switch the bond still takes the
// frames arriving on the link it left: replies in flight on the old path,
// and what the hub sends there before the gratuitous ARP has reached it
// over the new one. It makes failback lossless.
const switchGrace = 500 * time.Millisecond

// maxSwitchGrace bounds what slow or jittery links stretch the grace to.
const maxSwitchGrace = 5 * time.Second

// graceFor is the grace of a switch within a bond whose links have these
// figures: switchGrace, or twice the sum of the two largest retransmission
// timeouts (SRTT + 4 RTTVAR, RFC 6298) when that is longer, at most
// maxSwitchGrace. The link left covers what is still on its way over it,
// the link taken the gratuitous ARP's trip; the two largest bound any pair
// without asking the kernel which link is left. A link without an RTT yet
// adds nothing.
func graceFor(links ...probe.Figures) time.Duration {
	var first, second time.Duration
	for _, f := range links {
		if !f.HasRTT {
			continue
		}
		switch rto := f.RTTSmoothed + 4*f.RTTVar; {
		case rto > first:
			first, second = rto, first
		case rto > second:
			second = rto
		}
	}
	return min(max(switchGrace, 2*(first+second)), maxSwitchGrace)
}

// Steer switches the bond: the kernel bond through its primary (it
// switches at once; active_slave alone does not move it off an up
// primary), the eBPF bond by one map write, both with the grace of
// graceFor its links.
func (st steerer) Steer(ctx context.Context, name, link string) error {
	grace := st.grace(name)
	st.s.log.Debug("switch grace", "bond", name, "to", link, "grace", grace)
	return st.s.bonds.Switch(ctx, name, link, grace)
}

// grace is graceFor the bond's links.
func (st steerer) grace(name string) time.Duration {
	st.s.mu.Lock()
	taps := st.s.addresses[name].Taps
	st.s.mu.Unlock()
	figs := make([]probe.Figures, 0, len(taps))
	for _, t := range taps {
		f, _, _ := st.s.monitor.Figures(t)
		figs = append(figs, f)
	}
	return graceFor(figs...)
}

func (st steerer) Active(ctx context.Context, name string) (string, error) {
	info, err := st.s.bonds.Info(ctx, name)
	return info.Active, err
}

// Duplicate makes the bond copy its frames to link ("" stops): the eBPF
// bond can (docs/redundancy.md); the kernel bond refuses (Unsupported).
// The link that stops getting copies has a switch's grace: the hub may
// have learnt the bond there from a copy.
func (st steerer) Duplicate(ctx context.Context, name, link string) error {
	return st.s.bonds.SetDuplicate(ctx, name, link, st.grace(name))
}

// Duplicating names the link the bond copies its frames to ("": none).
func (st steerer) Duplicating(ctx context.Context, name string) (string, error) {
	return st.s.bonds.Duplicate(ctx, name)
}

// Announce sends a gratuitous ARP for the bond's address from its MAC.
func (st steerer) Announce(_ context.Context, name string) error {
	st.s.mu.Lock()
	b, ok := st.s.addresses[name]
	st.s.mu.Unlock()
	if !ok {
		return errkind.NotFound("no bond %s", name)
	}
	l, err := st.s.nl.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	return probe.Announce(l.Attrs().Index, l.Attrs().HardwareAddr, b.Address.Addr())
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// failover implements steering.
func (s *dataplane) failover(bond string) (api.FailoverStatus, bool) {
	e, ok := s.brain.Engine(bond)
	if !ok {
		return api.FailoverStatus{}, false
	}
	return e.Status(), true
}

// pin implements steering.
func (s *dataplane) pin(bond, link string) error {
	e, ok := s.brain.Engine(bond)
	if !ok {
		return errkind.NotFound("bond %s has no failover engine", bond)
	}
	return e.Apply(failover.Update{Pin: &link})
}

// proven implements steering.
func (s *dataplane) proven(link string, since time.Time) bool {
	if !s.monitor.LastReply(link).After(since) {
		return false
	}
	f, _, ok := s.monitor.Figures(link)
	return ok && f.Loss == 0 && f.Decided >= provenProbes
}

// silence implements steering.
func (s *dataplane) silence(link string) (time.Duration, time.Duration, bool) {
	at := s.monitor.LastReply(link)
	_, iv, ok := s.monitor.Figures(link)
	if at.IsZero() || !ok {
		return 0, 0, false
	}
	return time.Since(at), iv, true
}

// steady implements steering through the bond's driver; a failure is
// logged: the rotation goes on, with the bond's monitor as it was.
func (s *dataplane) steady(bond string, patience time.Duration) func() {
	release, err := s.bonds.Steady(context.Background(), bond, patience)
	if err != nil {
		s.log.Warn("the bond's own monitor keeps its setting during the rotation", "bond", bond, "err", err)
	}
	return release
}

// probeFast implements steering: the engine probes link at the active
// rate while fast (it sets every link's rate, so it is asked to).
func (s *dataplane) probeFast(bond, link string, fast bool) {
	if e, ok := s.brain.Engine(bond); ok {
		e.Watch(link, fast)
	}
}

// pinSub is dir/sub, or "" when dir is "" (no pins).
func pinSub(dir, sub string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, sub)
}
