package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netns"

	"github.com/multilink/multilink/internal/atomicfile"
	"github.com/multilink/multilink/internal/errkind"
)

// Options configures a Manager.
type Options struct {
	Dir         string        // where config files are written (created 0700, files 0600); required
	OpenVPN     string        // openvpn binary, a path or a name looked up on PATH; empty: "openvpn"
	Logger      *slog.Logger  // nil: discard
	NetNS       string        // path of the network namespace to work in (/var/run/netns/x); empty: the caller's
	MinBackoff  time.Duration // delay before the first restart; 0: 500 ms
	MaxBackoff  time.Duration // longest delay between restarts; 0: 30 s
	StableAfter time.Duration // added: a run this long resets the backoff to MinBackoff; 0: 1 min
	StopTimeout time.Duration // added: wait after SIGTERM before SIGKILL; 0: 5 s
	Alias       string        // set on the TAPs made, to know them after a crash (an owner mark); empty: "multilink-tunnel"
	// User and Group: openvpn drops to them after its start (Spec.User);
	// empty: it keeps root.
	User, Group string
	// Rekey is Spec.Rekey of every tunnel (0: DefaultRekey).
	Rekey time.Duration
	// Keepalive is Spec.Keepalive of every tunnel (0: DefaultKeepalive).
	Keepalive time.Duration
	// Nice is the scheduling niceness of every openvpn process, -20..19
	// (0: the default, as started). Each one forwards its link's every
	// packet and probe reply: on a busy host a negative niceness keeps
	// their replies from arriving late enough to look like a dead link.
	Nice int
	// Keep makes the openvpn processes outlive the Manager and the
	// daemon: no parent-death signal, a session of their own, output to
	// <Dir>/<tap>.log (followed into the debug log and the exit message)
	// instead of a pipe. Without it they die with the daemon.
	Keep bool
	// PeerExit, when set, is told the TAP of a tunnel whose peer sent its
	// exit notification (its OpenVPN ended: this end starts a new session
	// by itself, and a caller that knows when the peer is back can make it
	// start at once with Restart). Called from a goroutine of its own; it
	// must not block for long.
	PeerExit func(tap string)
}

// Manager runs and supervises OpenVPN TAP tunnels in one network
// namespace. Its methods are safe for concurrent use. Use one Manager per
// namespace: TAPs of ours that no process holds are taken over.
type Manager struct {
	opts Options
	log  *slog.Logger
	dev  devices
	ns   netns.NsHandle // not open: the caller's namespace
	// netns is the inode of the namespace the processes run in, written
	// to pid files and compared at adoption.
	netns uint64

	// startMu orders the decisions on what an earlier run left (adopt,
	// end, take over the TAP) with each other and with EndUnclaimed.
	startMu sync.Mutex

	probeMu sync.Mutex
	openvpn string // resolved binary, empty until the first successful probe
	version Version

	mu      sync.Mutex
	tunnels map[string]*tun
	closed  bool
	once    sync.Once // closes dev and ns
}

// tun is one supervised tunnel. Fields but st, p, stopping and
// releasing are set before its goroutine starts; those are guarded by
// Manager.mu; err is readable once done is closed.
type tun struct {
	spec     Spec
	conf     string
	ctx      context.Context // ends when the tunnel is to stop
	cancel   context.CancelFunc
	done     chan struct{}
	err      error
	st       Status
	p        *proc // the running process, nil between runs
	stopping bool
	reload   chan struct{} // Reconfigure: end this run, start with the new config
	// quick makes the run that reload ends end without a grace (Restart:
	// SIGKILL, no exit notification for a session that is gone anyway).
	quick atomic.Bool
	// released is closed by Release: stop supervising, leave everything;
	// endOnRelease (set before) says whether to end the process first.
	released     chan struct{}
	releasing    bool
	endOnRelease bool
}

// NewManager returns a Manager working in opts.NetNS. It starts nothing;
// openvpn is looked for at the first Start.
func NewManager(opts Options) (*Manager, error) {
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("new tunnel manager: %w", err)
	}
	ns := netns.None()
	if opts.NetNS != "" {
		var err error
		if ns, err = netns.GetFromPath(opts.NetNS); err != nil {
			return nil, fmt.Errorf("new tunnel manager: open netns %s: %w", opts.NetNS, err)
		}
	}
	dev, err := newKernelDevices(ns, opts.Alias)
	if err == nil {
		var m *Manager
		if m, err = newManager(opts, dev, ns); err == nil {
			return m, nil
		}
		dev.close()
	}
	if ns.IsOpen() {
		ns.Close()
	}
	return nil, fmt.Errorf("new tunnel manager: %w", err)
}

func (o Options) check() error {
	if o.Dir == "" {
		return errkind.Invalid("dir", "is required")
	}
	if err := (Spec{User: o.User, Group: o.Group}).checkAccounts(); err != nil {
		return err
	}
	if o.MinBackoff < 0 || o.MaxBackoff < 0 || o.MaxBackoff > 0 && o.MinBackoff > o.MaxBackoff {
		return errkind.Invalid("backoff", "want 0 <= min %s <= max %s", o.MinBackoff, o.MaxBackoff)
	}
	if o.Rekey != 0 && o.Rekey < MinRekey {
		return errkind.Invalid("rekey", "%s is below the %s minimum", o.Rekey, MinRekey)
	}
	if err := checkKeepalive(o.Keepalive); err != nil {
		return err
	}
	if o.Nice < -20 || o.Nice > 19 {
		return errkind.Invalid("nice", "%d: want -20 to 19", o.Nice)
	}
	return nil
}

// loggerOr is log, or one that discards.
func loggerOr(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// newManager takes ownership of dev and ns.
func newManager(opts Options, dev devices, ns netns.NsHandle) (*Manager, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create config dir: %w", err)
	}
	if opts.OpenVPN == "" {
		opts.OpenVPN = "openvpn"
	}
	opts.Logger = loggerOr(opts.Logger)
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&opts.MinBackoff, 500*time.Millisecond)
	def(&opts.MaxBackoff, max(30*time.Second, opts.MinBackoff))
	def(&opts.StableAfter, time.Minute)
	def(&opts.StopTimeout, 5*time.Second)
	ino, err := nsIdentity(ns)
	if err != nil {
		return nil, err
	}
	return &Manager{opts: opts, log: opts.Logger, dev: dev, ns: ns, netns: ino, tunnels: map[string]*tun{}}, nil
}

// probe resolves openvpn and its version once; a failure is retried at
// the next Start.
func (m *Manager) probe(ctx context.Context) (string, Version, error) {
	m.probeMu.Lock()
	defer m.probeMu.Unlock()
	if m.openvpn != "" {
		return m.openvpn, m.version, nil
	}
	path, v, err := probeOpenVPN(ctx, m.opts.OpenVPN)
	if err != nil {
		return "", Version{}, err
	}
	if !v.AtLeast(2, 5) {
		return "", Version{}, errkind.Unsupported(nil, "%s is OpenVPN %s; bind-dev needs 2.5 or later", path, v)
	}
	m.log.Info("openvpn found", "path", path, "version", v.String())
	m.openvpn, m.version = path, v
	return path, v, nil
}

// Start creates the TAP (persistent, up), writes the config file and
// starts a supervised openvpn for s. It returns once the process runs.
//
// What an earlier run of a Manager with this Dir left is taken over: an
// openvpn its pid file vouches for that runs s's config on s's TAP is
// adopted, not restarted (Status reports it running, with its pid and the
// restarts of the pid file); another openvpn of that config is ended, and
// an idle TAP of ours of that name is kept (with its admin state, bridge
// or bond membership) and given a new process.
//
// It is an errkind.Conflict error when s.Tap is managed already, when an
// interface of that name exists that is not a TAP of ours that no other
// process holds, or when another server tunnel has s.Port.
func (m *Manager) Start(ctx context.Context, s Spec) error {
	if err := m.start(ctx, s); err != nil {
		return fmt.Errorf("start tunnel %s: %w", s.Tap, err)
	}
	return nil
}

func (m *Manager) start(ctx context.Context, s Spec) error {
	s.User, s.Group, s.Rekey, s.Keepalive = m.opts.User, m.opts.Group, m.opts.Rekey, m.opts.Keepalive
	if err := s.check(); err != nil {
		return err
	}
	bin, v, err := m.probe(ctx)
	if err != nil {
		return err
	}
	if err := checkKeys(s); err != nil {
		return err
	}
	text, err := Render(s, v)
	if err != nil {
		return err
	}
	m.startMu.Lock()
	t, a, err := m.add(ctx, s, text)
	m.startMu.Unlock()
	if err != nil {
		return err
	}
	first := make(chan error, 1)
	go m.supervise(t, bin, first, a)
	if err := <-first; err != nil {
		<-t.done
		return err
	}
	st, _ := m.Status(s.Tap)
	if a != nil {
		m.log.Info("adopted openvpn", "tap", s.Tap, "role", s.Role, "port", s.Port, "pid", st.PID, "restarts", st.Restarts)
	} else {
		m.log.Info("tunnel started", "tap", s.Tap, "role", s.Role, "port", s.Port, "pid", st.PID)
	}
	return nil
}

// add registers a tunnel for s after checking for conflicts, adopts its
// openvpn or else makes sure of its TAP (taken over or created) and
// writes its config file. Called with startMu held.
func (m *Manager) add(ctx context.Context, s Spec, text []byte) (*tun, *adoption, error) {
	if err := m.free(s); err != nil {
		return nil, nil, err
	}
	up, created := true, false
	a := m.adopt(s, text)
	if a != nil {
		up = a.up
	} else {
		info, err := m.dev.inspect(s.Tap)
		switch {
		case err != nil:
			return nil, nil, err
		case info.found && !info.idle():
			return nil, nil, errkind.Conflict("interface %s exists and is not an idle TAP of ours", s.Tap)
		case info.found:
			m.log.Info("taking over a TAP left by an earlier run", "tap", s.Tap, "up", info.up)
			up = info.up
		default:
			if err := m.dev.createTap(s.Tap, true); err != nil {
				return nil, nil, err
			}
			created = true
		}
		if err := atomicfile.Write(confPath(m.opts.Dir, s.Tap), text, 0o600); err != nil {
			if created {
				_ = m.dev.remove(s.Tap)
			}
			return nil, nil, fmt.Errorf("write config: %w", err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed { // closed meanwhile
		if a != nil {
			a.p.release()
		}
		if created {
			_ = m.dev.remove(s.Tap)
		}
		return nil, nil, errkind.Unavailable(nil, "tunnel manager is closed")
	}
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t := &tun{
		spec: s, conf: confPath(m.opts.Dir, s.Tap), ctx: tctx, cancel: cancel, done: make(chan struct{}),
		reload: make(chan struct{}, 1), released: make(chan struct{}),
		st: Status{Tap: s.Tap, Role: s.Role, Port: s.Port, AdminUp: up, Since: time.Now()},
	}
	if a != nil {
		t.st.Restarts = a.restarts
	}
	m.tunnels[s.Tap] = t
	return t, a, nil
}

// free checks that s may be started: the Manager is open, s.Tap is not
// managed and no other server tunnel has s.Port.
func (m *Manager) free(s Spec) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errkind.Unavailable(nil, "tunnel manager is closed")
	}
	if _, ok := m.tunnels[s.Tap]; ok {
		return errkind.Conflict("tunnel %s is already managed", s.Tap)
	}
	for _, o := range m.tunnels {
		if s.Role == Server && o.spec.Role == Server && o.spec.Port == s.Port {
			return errkind.Conflict("port %d is taken by tunnel %s", s.Port, o.spec.Tap)
		}
	}
	return nil
}

// Reconfigure gives a managed tunnel a new config (TLS mode's peer
// fingerprints, its certificate): the config file is rewritten and
// openvpn is restarted at once with it, the TAP kept (its bridge or bond
// membership and admin state too). Tap, role and port cannot change.
func (m *Manager) Reconfigure(ctx context.Context, s Spec) error {
	s.User, s.Group, s.Rekey, s.Keepalive = m.opts.User, m.opts.Group, m.opts.Rekey, m.opts.Keepalive
	if err := s.check(); err != nil {
		return fmt.Errorf("reconfigure tunnel %s: %w", s.Tap, err)
	}
	_, v, err := m.probe(ctx)
	if err != nil {
		return fmt.Errorf("reconfigure tunnel %s: %w", s.Tap, err)
	}
	if err := checkKeys(s); err != nil {
		return fmt.Errorf("reconfigure tunnel %s: %w", s.Tap, err)
	}
	text, err := Render(s, v)
	if err != nil {
		return fmt.Errorf("reconfigure tunnel %s: %w", s.Tap, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tunnels[s.Tap]
	switch {
	case !ok || t.stopping:
		return fmt.Errorf("reconfigure tunnel %s: %w", s.Tap, errkind.NotFound("tunnel %s is not managed", s.Tap))
	case t.spec.Role != s.Role || t.spec.Port != s.Port:
		return fmt.Errorf("reconfigure tunnel %s: %w", s.Tap, errkind.Invalid("spec", "role and port cannot change (stop and start the tunnel)"))
	}
	if err := atomicfile.Write(t.conf, text, 0o600); err != nil {
		return fmt.Errorf("reconfigure tunnel %s: write config: %w", s.Tap, err)
	}
	t.spec = s
	old := t.st.PID
	select {
	case t.reload <- struct{}{}:
	default: // a reload is asked for already; it reads the new file
	}
	m.mu.Unlock()
	err = m.waitNewProcess(ctx, t, old)
	m.mu.Lock()
	if err != nil {
		return fmt.Errorf("reconfigure tunnel %s: %w", s.Tap, err)
	}
	m.log.Info("tunnel reconfigured", "tap", s.Tap, "mode", s.mode())
	return nil
}

// waitNewProcess waits until t runs a process other than old (the one
// with the new config), so that a peer that connects next meets it.
func (m *Manager) waitNewProcess(ctx context.Context, t *tun, old int) error {
	ctx, cancel := context.WithTimeout(ctx, m.opts.StopTimeout+5*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		m.mu.Lock()
		st := t.st
		m.mu.Unlock()
		if st.Running && st.PID != old {
			return nil
		}
		select {
		case <-t.done:
			return errors.New("the tunnel stopped meanwhile")
		case <-ctx.Done():
			return fmt.Errorf("openvpn did not run with the new config: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop ends the tunnel's process (SIGTERM, SIGKILL after StopTimeout),
// then removes its TAP, config, pid and log files. It is an errkind.NotFound error when
// tap is not managed. If ctx ends first, Stop returns and the removal
// still completes in the background.
func (m *Manager) Stop(ctx context.Context, tap string) error {
	m.mu.Lock()
	t, ok := m.tunnels[tap]
	ok = ok && !t.releasing
	if ok {
		t.stopping = true
		t.cancel()
	}
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("stop tunnel %s: %w", tap, errkind.NotFound("tunnel %s is not managed", tap))
	}
	if err := wait(ctx, t); err != nil {
		return fmt.Errorf("stop tunnel %s: %w", tap, err)
	}
	m.log.Info("tunnel stopped", "tap", tap)
	return nil
}

func wait(ctx context.Context, t *tun) error {
	select {
	case <-t.done:
		return t.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetUp sets a managed TAP's admin state. The state is remembered: a TAP
// the supervisor has to create again gets it too.
func (m *Manager) SetUp(ctx context.Context, tap string, up bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tunnels[tap]
	if !ok || t.stopping {
		return fmt.Errorf("set tap %s up=%t: %w", tap, up, errkind.NotFound("tunnel %s is not managed", tap))
	}
	if err := m.dev.setUp(tap, up); err != nil {
		return err
	}
	t.st.AdminUp = up
	m.log.Info("tap admin state", "tap", tap, "up", up)
	return nil
}

// NewSession makes tap's OpenVPN start a new session with its peer
// (SIGUSR1, its soft restart: the process and the TAP stay): for a link
// whose peer lost its side of the session (a hub's OpenVPN that was
// killed and started again drops the old session's packets, and the
// client would otherwise wait for its ping-restart).
func (m *Manager) NewSession(tap string) error {
	m.mu.Lock()
	t, ok := m.tunnels[tap]
	var p *proc
	if ok && !t.stopping && t.st.Running {
		p = t.p
	}
	m.mu.Unlock()
	if p == nil {
		return fmt.Errorf("new session on %s: %w", tap, errkind.NotFound("tunnel %s is not running", tap))
	}
	pid := p.pid
	if err := p.signal(syscall.SIGUSR1); err != nil {
		return fmt.Errorf("new session on %s (openvpn %d): %w", tap, pid, err)
	}
	m.log.Info("openvpn asked for a new session", "tap", tap, "pid", pid)
	return nil
}

// Restart ends tap's OpenVPN at once (SIGKILL: no exit notification) and
// starts a new one on the same TAP and config, not counted as a crash: a
// client whose peer is known to be back knocks at once, where OpenVPN's
// own restart would pause first and its knocks in the meantime wait for
// the control channel's retransmission (2 s, then 4 s). Returns once the
// new process runs.
func (m *Manager) Restart(ctx context.Context, tap string) error {
	m.mu.Lock()
	t, ok := m.tunnels[tap]
	if !ok || t.stopping {
		m.mu.Unlock()
		return fmt.Errorf("restart tunnel %s: %w", tap, errkind.NotFound("tunnel %s is not managed", tap))
	}
	old := t.st.PID
	t.quick.Store(true)
	select {
	case t.reload <- struct{}{}:
	default: // a reload is asked for already
	}
	m.mu.Unlock()
	if err := m.waitNewProcess(ctx, t, old); err != nil {
		return fmt.Errorf("restart tunnel %s: %w", tap, err)
	}
	m.log.Info("openvpn restarted to start a new session at once", "tap", tap, "old_pid", old)
	return nil
}

// Status returns a managed tunnel's state.
func (m *Manager) Status(tap string) (Status, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tunnels[tap]
	if !ok {
		return Status{}, false
	}
	return t.st, true
}

// List returns the state of every managed tunnel, sorted by TAP name.
func (m *Manager) List() []Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := make([]Status, 0, len(m.tunnels))
	for _, t := range m.tunnels {
		l = append(l, t.st)
	}
	slices.SortFunc(l, func(a, b Status) int { return strings.Compare(a.Tap, b.Tap) })
	return l
}

// Close stops every tunnel as Stop does and refuses further Starts. When
// all are gone it releases the netlink handle and namespace; if ctx ends
// first it returns ctx's error and the tunnels finish stopping in the
// background. Close may be called again.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	ts := make([]*tun, 0, len(m.tunnels))
	for _, t := range m.tunnels {
		if !t.releasing {
			t.stopping = true
			t.cancel()
		}
		ts = append(ts, t)
	}
	m.mu.Unlock()
	var errs []error
	for _, t := range ts {
		if err := wait(ctx, t); ctx.Err() != nil {
			return fmt.Errorf("close tunnels: %w", ctx.Err())
		} else if err != nil {
			errs = append(errs, fmt.Errorf("stop tunnel %s: %w", t.spec.Tap, err))
		}
	}
	m.once.Do(func() {
		if err := m.dev.close(); err != nil {
			errs = append(errs, err)
		}
		if m.ns.IsOpen() {
			m.ns.Close()
		}
	})
	return errors.Join(errs...)
}

// Release stops supervising every tunnel and closes the Manager, leaving
// what it built for the next one to adopt (Start): the TAPs, config, pid
// and log files stay. With end false the openvpn processes keep running
// (a child started without Options.Keep still dies with the daemon);
// with end true they are ended as EndStrays does: a server end SIGTERM
// (its client hears it) and SIGKILL after a quarter second, a client end
// SIGKILL. If ctx ends first, Release returns ctx's error and the
// supervisors finish in the background.
func (m *Manager) Release(ctx context.Context, end bool) error {
	m.mu.Lock()
	m.closed = true
	ts := make([]*tun, 0, len(m.tunnels))
	for _, t := range m.tunnels {
		if !t.stopping && !t.releasing {
			t.releasing, t.endOnRelease = true, end
			close(t.released)
		}
		ts = append(ts, t)
	}
	m.mu.Unlock()
	var errs []error
	for _, t := range ts {
		if err := wait(ctx, t); ctx.Err() != nil {
			return fmt.Errorf("release tunnels: %w", ctx.Err())
		} else if err != nil {
			errs = append(errs, fmt.Errorf("release tunnel %s: %w", t.spec.Tap, err))
		}
	}
	m.once.Do(func() {
		if err := m.dev.close(); err != nil {
			errs = append(errs, err)
		}
		if m.ns.IsOpen() {
			m.ns.Close()
		}
	})
	m.log.Info("tunnels released", "count", len(ts), "ended", end)
	return errors.Join(errs...)
}
