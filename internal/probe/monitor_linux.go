package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/bpf"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/nsthread"
	"github.com/multilink/multilink/internal/tcattach"
)

// Legacy filter name and priority: before anything else of ours on the
// TAP (the eBPF bond's filter comes later).
const (
	filterName     = "multilink_probe"
	filterPriority = 1
)

// Options configures a Monitor.
type Options struct {
	Interval       time.Duration // the active link's probe interval; 0: DefaultInterval
	BackupInterval time.Duration // the other links'; 0: DefaultBackupInterval
	// IdleInterval is the active link's while it sends no data (see
	// IdleAfter; the daemon's default is DefaultIdleInterval); 0: none,
	// the active link is probed at Interval all the time.
	IdleInterval time.Duration
	Attach       string // tcattach.Auto (default), tcattach.TCX or tcattach.Legacy
	NoRingbuf    bool   // poll the counters even where a ring buffer exists (tests)
	NetNS        string // path of the namespace the TAPs live in; empty: the caller's
	// PinDir is a directory on a bpf filesystem where the maps, programs
	// and TCX links are pinned so that the next Monitor with the same
	// PinDir takes them over (Add); empty: nothing is pinned.
	PinDir string
	Logger *slog.Logger

	eagerWake bool // every reply wakes the ring reader, no wake gap (BenchmarkProbeCost's eager baseline)
	noFrames  bool // the prober ticks but sends nothing (the benchmark's split of a tick's cost from its probe's)
}

// Monitor probes links and keeps their measurements. Programs load at the
// first Add, so a daemon that only serves as a hub needs no BPF.
type Monitor struct {
	opts Options
	log  *slog.Logger
	ns   netns.NsHandle // not open: the caller's namespace
	nl   *netlink.Handle
	mono monoClock

	mu       sync.Mutex
	obj      *objects
	rb       *ringbuf.Reader
	rbWait   *ringWaiter        // where readEvents waits for rb
	drainMu  sync.Mutex         // held by whoever reads rb (drain)
	rec      ringbuf.Record     // drain's buffer, under drainMu
	links    map[string]*probed // by TAP name
	ivMu     sync.Mutex
	interval [3]time.Duration // under ivMu: backup, active, idle
	// idxMu and subMu are apart from mu, which Add holds while it loads
	// and attaches: a drain (every link's tick) never waits for that.
	idxMu   sync.RWMutex
	byIndex map[int]*probed // under idxMu
	subMu   sync.Mutex
	subs    map[int]chan Sample // under subMu, with nextSub and dropped
	nextSub int
	dropped uint64 // samples a slow subscriber missed
	wg      sync.WaitGroup
	closed  bool
}

// probed is a link with its kernel side.
type probed struct {
	*prober
	obj     *linkObjects
	adopted bool // taken over from an earlier run's pins
	att     *tcattach.Attachment
	mac     net.HardwareAddr // the TAP's, in host_macs while probed
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewMonitor returns a Monitor probing nothing yet.
func NewMonitor(opts Options) (*Monitor, error) {
	opts, err := opts.Checked()
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Monitor{opts: opts, log: log.With("component", "probe"), ns: netns.None(), mono: newMonoClock(),
		links: map[string]*probed{}, byIndex: map[int]*probed{}, subs: map[int]chan Sample{},
		interval: [3]time.Duration{opts.BackupInterval, opts.Interval, opts.IdleInterval}}
	if opts.NetNS != "" {
		if m.ns, err = netns.GetFromPath(opts.NetNS); err != nil {
			return nil, fmt.Errorf("open netns %s: %w", opts.NetNS, err)
		}
		m.nl, err = netlink.NewHandleAt(m.ns, unix.NETLINK_ROUTE)
	} else {
		m.nl, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	if err != nil {
		if m.ns.IsOpen() {
			m.ns.Close()
		}
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	return m, nil
}

// Checked returns o with its defaults filled in, or the error that names
// a bad setting (intervals, attach mode): NewMonitor's rules, with nothing
// made.
func (o Options) Checked() (Options, error) {
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.BackupInterval == 0 {
		o.BackupInterval = DefaultBackupInterval
	}
	if err := checkIntervals(o.Interval, o.BackupInterval, o.IdleInterval); err != nil {
		return o, err
	}
	if o.PinDir != "" && !filepath.IsAbs(o.PinDir) {
		return o, errkind.Invalid("pin_dir", "%q is not an absolute path", o.PinDir)
	}
	if err := tcattach.CheckMode(o.Attach); err != nil {
		return o, errkind.Invalid("attach", "%v", err)
	}
	return o, nil
}

func checkIntervals(active, backup, idle time.Duration) error {
	for _, v := range []struct {
		name string
		d    time.Duration
	}{{"interval", active}, {"backup_interval", backup}, {"idle_interval", idle}} {
		if v.name == "idle_interval" && v.d == 0 {
			continue // none
		}
		if v.d < MinInterval || v.d > MaxInterval {
			return errkind.Invalid(v.name, "%s is out of range %s..%s", v.d, MinInterval, MaxInterval)
		}
	}
	if idle != 0 && idle < active {
		return errkind.Invalid("idle_interval", "%s is shorter than the active link's interval %s (it probes an idle link more slowly, or as fast)", idle, active)
	}
	return nil
}

// SetIntervals changes the probe intervals of the active link, of the
// other links and of the active link while idle (0: none, the active
// interval then), at once.
func (m *Monitor) SetIntervals(active, backup, idle time.Duration) error {
	if err := checkIntervals(active, backup, idle); err != nil {
		return err
	}
	m.ivMu.Lock()
	m.interval = [3]time.Duration{backup, active, idle}
	m.ivMu.Unlock()
	m.mu.Lock()
	ls := m.all()
	m.mu.Unlock()
	for _, l := range ls {
		l.poke()
	}
	return nil
}

// Intervals returns the active, backup and idle probe intervals.
func (m *Monitor) Intervals() (active, backup, idle time.Duration) {
	m.ivMu.Lock()
	defer m.ivMu.Unlock()
	return m.interval[1], m.interval[0], m.interval[2]
}

// intervalFor is a link's probe interval: the backup one unless active,
// the idle one when active and idle.
func (m *Monitor) intervalFor(active, idle bool) time.Duration {
	m.ivMu.Lock()
	defer m.ivMu.Unlock()
	switch {
	case !active:
		return m.interval[0]
	case idle && m.interval[2] != 0:
		return m.interval[2]
	}
	return m.interval[1]
}

// Add starts probing spec.Link. It loads the programs the first time.
func (m *Monitor) Add(ctx context.Context, spec LinkSpec) error {
	if !spec.Target.Is4() {
		return errkind.Invalid("target", "%s is not an IPv4 address", spec.Target)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("probe monitor is closed")
	}
	if _, ok := m.links[spec.Link]; ok {
		return errkind.Conflict("link %s is probed already", spec.Link)
	}
	if err := m.load(); err != nil {
		return err
	}
	dev, err := m.nl.LinkByName(spec.Link)
	if err != nil {
		return errkind.NotFound("no interface %s to probe: %v", spec.Link, err)
	}
	p, err := m.start(ctx, spec, dev.Attrs().Index)
	if err != nil {
		return fmt.Errorf("probe %s: %w", spec.Link, err)
	}
	// The TAP's MAC as it is now: a kernel bond with fail_over_mac 1 (the
	// spec's) leaves its slaves theirs; with none it gives them its own,
	// and frames to it are the TAP's own anyway.
	if err := m.obj.addHostMAC(dev.Attrs().HardwareAddr); err != nil {
		_ = m.stop(p) // what it can; the error is Add's
		return fmt.Errorf("probe %s: %w", spec.Link, err)
	}
	p.mac = dev.Attrs().HardwareAddr
	m.links[spec.Link] = p
	m.idxMu.Lock()
	m.byIndex[p.ifindex] = p
	m.idxMu.Unlock()
	m.log.Info("probing link", "bond", spec.Bond, "link", spec.Link, "target", spec.Target, "attach", p.att.Mode(),
		"active", spec.Active, "ring_buffer", m.obj.ringbuf, "adopted", p.adopted, "index", p.obj.idx)
	return nil
}

// load loads the programs and starts the ring buffer reader, once.
func (m *Monitor) load() error {
	if m.obj != nil {
		return nil
	}
	o, err := loadObjects(loadOptions{noRingbuf: m.opts.NoRingbuf, pinDir: m.opts.PinDir})
	if err != nil {
		return errkind.Unsupported(err, "the eBPF link probe cannot load its maps (needs CAP_BPF and CAP_NET_ADMIN, Linux 5.4+)")
	}
	if o.reset != "" {
		m.log.Warn("probe maps of an earlier run not taken over, their pins removed", "pin_dir", m.opts.PinDir, "reason", o.reset)
	}
	exists := func(ifindex uint32) bool {
		_, err := m.nl.LinkByIndex(int(ifindex))
		return err == nil
	}
	if err := o.reserve(exists); err != nil {
		o.Close()
		return err
	}
	tapExists := func(tap string) bool {
		_, err := m.nl.LinkByName(tap)
		return err == nil
	}
	if err := o.pin.pruneGone(tapExists); err != nil {
		o.Close()
		return err
	}
	if o.ringbuf {
		rb, err := ringbuf.NewReader(o.Events)
		if err != nil {
			o.Close()
			return fmt.Errorf("open probe ring buffer: %w", err)
		}
		w, err := newRingWaiter(o.Events)
		if err != nil {
			rb.Close()
			o.Close()
			return err
		}
		rb.SetDeadline(time.Unix(1, 0)) // reads never block: drain
		m.rb, m.rbWait = rb, w
		m.wg.Add(1)
		go m.readEvents(rb, w)
	}
	m.obj = o
	return nil
}

// start attaches to ifindex and runs the link's prober.
func (m *Monitor) start(ctx context.Context, spec LinkSpec, ifindex int) (_ *probed, err error) {
	alarm, err := newTimerAlarm()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			alarm.close()
		}
	}()
	lo, cfg, adopted, err := m.linkObjects(spec, uint32(ifindex))
	if err != nil {
		return nil, err
	}
	base := net.HardwareAddr(bytes.Clone(cfg.ProbeMac[:]))
	p := &probed{obj: lo, adopted: adopted}
	defer func() {
		if err != nil {
			_ = m.stop(p) // what it can; the error is start's
		}
	}()
	var snd *packetSender
	err = nsthread.In(m.ns, func() error {
		var err error
		progs := []tcattach.Program{{Prog: lo.ProbeIngress, Ingress: true}, {Prog: lo.ProbeEgress}}
		// First: the probe sees every frame before anything else on the
		// TAP decides (the eBPF bond drops what reaches an inactive member).
		p.att, err = tcattach.Attach(m.nl, ifindex, progs, tcattach.Options{Mode: m.opts.Attach, Name: filterName, First: true, Priority: filterPriority,
			PinDir: m.obj.pin.link(spec.Link)})
		if err != nil {
			return err
		}
		snd, err = newPacketSender(ifindex)
		return err
	})
	if err != nil {
		return nil, err
	}
	obj := m.obj
	var drain func()
	if obj.ringbuf {
		drain = func() {
			if err := m.drain(); err != nil && !errors.Is(err, ringbuf.ErrClosed) {
				m.log.Error("probe ring buffer", "err", err)
			}
		}
	}
	var out sender = snd
	if m.opts.noFrames {
		out = discardSender{snd}
	}
	p.prober = &prober{
		spec: spec, ifindex: ifindex, base: base, snd: out, polling: !m.obj.ringbuf, drain: drain,
		setGap:   m.gapSetter(lo, cfg),
		read:     func() (kernelView, error) { return obj.readLink(lo) },
		readStat: func() (kernelView, error) { return obj.readStats(lo) },
		publish:  m.publish,
		alarm:    alarm,
		mono:     m.mono.now,
		active:   spec.Active,
		carrying: spec.Active,
		interval: m.intervalFor,
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		p.run(lctx)
	}()
	return p, nil
}

// linkObjects takes over the link's pinned objects (adoptLink), else loads
// them afresh with a new probe MAC. A taken-over link's config gets the
// target of spec and no wake gap (the prober sets it at its first tick).
func (m *Monitor) linkObjects(spec LinkSpec, ifindex uint32) (*linkObjects, bpf.ProbeLinkConfig, bool, error) {
	target := binary.NativeEndian.Uint32(spec.Target.AsSlice())
	lo, cfg, reloaded, err := m.obj.adoptLink(spec.Link, ifindex)
	if err == nil {
		if reloaded != nil {
			m.log.Warn("probe link's pinned programs not taken over, this build's loaded; its index, probe MAC and ARP statistics kept",
				"link", spec.Link, "reason", reloaded)
		}
		cfg.Target, cfg.WakeGapNs, cfg.IdleNs = target, 0, uint64(IdleAfter)
		if err = m.obj.configure(lo, cfg); err == nil {
			return lo, cfg, true, nil
		}
		_ = m.obj.releaseLink(lo)
		m.obj.unclaim(lo.idx, ifindex)
	}
	if !errors.Is(err, errNotPinned) {
		m.log.Warn("probe link's pinned objects not taken over, loading it afresh", "link", spec.Link, "err", err)
	}
	base, err := NewProbeMAC()
	if err != nil {
		return nil, cfg, false, err
	}
	cfg = bpf.ProbeLinkConfig{Target: target, IdleNs: uint64(IdleAfter)}
	copy(cfg.ProbeMac[:], base)
	lo, err = m.obj.addLink(spec.Link, ifindex, cfg)
	return lo, cfg, false, err
}

// gapSetter writes the link's wake gap into its config (nil: the gap
// stays 0, every reply wakes the reader).
func (m *Monitor) gapSetter(lo *linkObjects, cfg bpf.ProbeLinkConfig) func(time.Duration) error {
	if m.opts.eagerWake || !m.obj.ringbuf {
		return nil
	}
	return func(gap time.Duration) error {
		c := cfg
		c.WakeGapNs = uint64(gap)
		return m.obj.configure(lo, c)
	}
}

// stop ends p's prober and removes what start made.
func (m *Monitor) stop(p *probed) error {
	var errs []error
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
	if p.prober != nil {
		if err := p.snd.close(); err != nil {
			errs = append(errs, fmt.Errorf("close probe socket: %w", err))
		}
	}
	if p.att != nil {
		if err := p.att.Detach(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.obj.removeLink(p.obj); err != nil {
		errs = append(errs, err)
	}
	if err := m.obj.removeHostMAC(p.mac); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Remove stops probing tap and detaches from it.
func (m *Monitor) Remove(tap string) error {
	m.mu.Lock()
	p, ok := m.links[tap]
	if ok {
		delete(m.links, tap)
		m.idxMu.Lock()
		delete(m.byIndex, p.ifindex)
		m.idxMu.Unlock()
	}
	m.mu.Unlock()
	if !ok {
		return errkind.NotFound("link %s is not probed", tap)
	}
	if err := m.stop(p); err != nil {
		return fmt.Errorf("stop probing %s: %w", tap, err)
	}
	m.log.Info("stopped probing link", "link", tap)
	return nil
}

// SetActive sets whether tap is the active link (probed at Interval).
func (m *Monitor) SetActive(tap string, active bool) error {
	p, err := m.probedLink(tap)
	if err != nil {
		return err
	}
	p.setActive(active)
	return nil
}

// SetCarrying sets whether tap carries the bond's traffic (at Add: if it
// is active): only then is it probed at the idle interval while active and
// sending no data.
func (m *Monitor) SetCarrying(tap string, carrying bool) error {
	p, err := m.probedLink(tap)
	if err != nil {
		return err
	}
	p.setCarrying(carrying)
	return nil
}

// SetSuspect sets whether tap, if active, is probed every BurstInterval:
// the failover engine asks it while the link's loss looks high, so that
// its loss is measured on many probes at once.
func (m *Monitor) SetSuspect(tap string, suspect bool) error {
	p, err := m.probedLink(tap)
	if err != nil {
		return err
	}
	p.setSuspect(suspect)
	return nil
}

// probedLink is tap's probe, or errkind.NotFound.
func (m *Monitor) probedLink(tap string) (*probed, error) {
	m.mu.Lock()
	p, ok := m.links[tap]
	m.mu.Unlock()
	if !ok {
		return nil, errkind.NotFound("link %s is not probed", tap)
	}
	return p, nil
}

func (m *Monitor) all() []*probed {
	out := make([]*probed, 0, len(m.links))
	for _, p := range m.links {
		out = append(out, p)
	}
	return out
}

// Close stops probing every link, detaches and unloads the programs, and
// unpins everything under PinDir (an earlier run's pins too).
func (m *Monitor) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	ls := m.all()
	m.mu.Unlock()
	var errs []error
	for _, p := range ls {
		errs = append(errs, m.Remove(p.spec.Link))
	}
	errs = append(errs, m.shutdown())
	errs = append(errs, pins{dir: m.opts.PinDir}.removeAll())
	return errors.Join(errs...)
}

// Release stops probing every link and closes every file descriptor, and
// leaves the kernel side as it is: the programs stay attached (TCX links
// pinned), the maps and programs pinned under PinDir, the counters
// counting, so that the next Monitor with the same PinDir takes the links
// over (Add). Without a PinDir, TCX attachments end with their file
// descriptors; legacy filters stay.
func (m *Monitor) Release() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	ls := m.all()
	clear(m.links)
	m.mu.Unlock()
	m.idxMu.Lock()
	clear(m.byIndex)
	m.idxMu.Unlock()
	var errs []error
	for _, p := range ls {
		if err := m.release(p); err != nil {
			errs = append(errs, fmt.Errorf("release probing of %s: %w", p.spec.Link, err))
		}
	}
	errs = append(errs, m.shutdown())
	m.log.Info("probe released", "links", len(ls), "pin_dir", m.opts.PinDir)
	return errors.Join(errs...)
}

// release ends p's prober and closes its file descriptors, leaving its
// programs attached and pinned.
func (m *Monitor) release(p *probed) error {
	var errs []error
	p.cancel()
	<-p.done
	if err := p.snd.close(); err != nil {
		errs = append(errs, fmt.Errorf("close probe socket: %w", err))
	}
	if err := p.att.Release(); err != nil {
		errs = append(errs, err)
	}
	if err := m.obj.releaseLink(p.obj); err != nil {
		errs = append(errs, fmt.Errorf("close probe programs: %w", err))
	}
	return errors.Join(errs...)
}

// shutdown ends the ring reader and the subscriptions and closes the maps
// and handles (the links are gone already).
func (m *Monitor) shutdown() error {
	var errs []error
	if m.rb != nil {
		// The reader first (its wait ends, readEvents returns), then
		// the ring it reads: the reader's readiness check reads the ring.
		errs = append(errs, m.rbWait.Close())
		m.wg.Wait()
		errs = append(errs, m.rb.Close())
	}
	m.wg.Wait()
	if m.obj != nil {
		errs = append(errs, m.obj.Close())
	}
	m.subMu.Lock()
	for id, ch := range m.subs {
		delete(m.subs, id)
		close(ch)
	}
	m.subMu.Unlock()
	m.nl.Close()
	if m.ns.IsOpen() {
		m.ns.Close()
	}
	return errors.Join(errs...)
}
