package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
	// Nice is the scheduling niceness of every openvpn process, -20..19
	// (0: the default, as started). Each one forwards its link's every
	// packet and probe reply: on a busy host a negative niceness keeps
	// their replies from arriving late enough to look like a dead link.
	Nice int
}

// Manager runs and supervises OpenVPN TAP tunnels in one network
// namespace. Its methods are safe for concurrent use. Use one Manager per
// namespace: TAPs of ours that no process holds are taken over.
type Manager struct {
	opts Options
	log  *slog.Logger
	dev  devices
	ns   netns.NsHandle // not open: the caller's namespace

	probeMu sync.Mutex
	openvpn string // resolved binary, empty until the first successful probe
	version Version

	mu      sync.Mutex
	tunnels map[string]*tun
	closed  bool
	once    sync.Once // closes dev and ns
}

// tun is one supervised tunnel. Fields but st are set before its
// goroutine starts; st and stopping are guarded by Manager.mu; err is
// readable once done is closed.
type tun struct {
	spec     Spec
	conf     string
	ctx      context.Context // ends when the tunnel is to stop
	cancel   context.CancelFunc
	done     chan struct{}
	err      error
	st       Status
	stopping bool
	reload   chan struct{} // Reconfigure: end this run, start with the new config
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
	return &Manager{opts: opts, log: opts.Logger, dev: dev, ns: ns, tunnels: map[string]*tun{}}, nil
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
// It is an errkind.Conflict error when s.Tap is managed already, when an
// interface of that name exists that is not an idle TAP of ours, or when
// another server tunnel has s.Port.
func (m *Manager) Start(ctx context.Context, s Spec) error {
	if err := m.start(ctx, s); err != nil {
		return fmt.Errorf("start tunnel %s: %w", s.Tap, err)
	}
	return nil
}

func (m *Manager) start(ctx context.Context, s Spec) error {
	s.User, s.Group, s.Rekey = m.opts.User, m.opts.Group, m.opts.Rekey
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
	t, err := m.add(ctx, s, text)
	if err != nil {
		return err
	}
	first := make(chan error, 1)
	go m.supervise(t, bin, first)
	if err := <-first; err != nil {
		<-t.done
		return err
	}
	st, _ := m.Status(s.Tap)
	m.log.Info("tunnel started", "tap", s.Tap, "role", s.Role, "port", s.Port, "pid", st.PID)
	return nil
}

// add registers a tunnel for s after checking for conflicts, and creates
// its TAP and config file.
func (m *Manager) add(ctx context.Context, s Spec, text []byte) (*tun, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errkind.Unavailable(nil, "tunnel manager is closed")
	}
	if _, ok := m.tunnels[s.Tap]; ok {
		return nil, errkind.Conflict("tunnel %s is already managed", s.Tap)
	}
	for _, o := range m.tunnels {
		if s.Role == Server && o.spec.Role == Server && o.spec.Port == s.Port {
			return nil, errkind.Conflict("port %d is taken by tunnel %s", s.Port, o.spec.Tap)
		}
	}
	found, idle, err := m.dev.lookup(s.Tap)
	switch {
	case err != nil:
		return nil, err
	case found && !idle:
		return nil, errkind.Conflict("interface %s exists and is not an idle TAP of ours", s.Tap)
	case found:
		m.log.Warn("removing a TAP left by an earlier run", "tap", s.Tap)
		if err := m.dev.remove(s.Tap); err != nil {
			return nil, err
		}
	}
	if err := m.dev.createTap(s.Tap, true); err != nil {
		return nil, err
	}
	conf := filepath.Join(m.opts.Dir, s.Tap+".conf")
	if err := atomicfile.Write(conf, text, 0o600); err != nil {
		_ = m.dev.remove(s.Tap)
		return nil, fmt.Errorf("write config: %w", err)
	}
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t := &tun{
		spec: s, conf: conf, ctx: tctx, cancel: cancel, done: make(chan struct{}), reload: make(chan struct{}, 1),
		st: Status{Tap: s.Tap, Role: s.Role, Port: s.Port, AdminUp: true, Since: time.Now()},
	}
	m.tunnels[s.Tap] = t
	return t, nil
}

// Reconfigure gives a managed tunnel a new config (TLS mode's peer
// fingerprints, its certificate): the config file is rewritten and
// openvpn is restarted at once with it, the TAP kept (its bridge or bond
// membership and admin state too). Tap, role and port cannot change.
func (m *Manager) Reconfigure(ctx context.Context, s Spec) error {
	s.User, s.Group, s.Rekey = m.opts.User, m.opts.Group, m.opts.Rekey
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
// then removes its TAP and config file. It is an errkind.NotFound error when
// tap is not managed. If ctx ends first, Stop returns and the removal
// still completes in the background.
func (m *Manager) Stop(ctx context.Context, tap string) error {
	m.mu.Lock()
	t, ok := m.tunnels[tap]
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
	var pid int
	if ok && !t.stopping && t.st.Running {
		pid = t.st.PID
	}
	m.mu.Unlock()
	if pid == 0 {
		return fmt.Errorf("new session on %s: %w", tap, errkind.NotFound("tunnel %s is not running", tap))
	}
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		return fmt.Errorf("new session on %s (openvpn %d): %w", tap, pid, err)
	}
	m.log.Info("openvpn asked for a new session", "tap", tap, "pid", pid)
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
		t.stopping = true
		t.cancel()
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
