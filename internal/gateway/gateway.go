package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/bond"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/owner"
	"github.com/multilink/multilink/internal/tunnel"
)

// Netlink is what the gateway needs of a netlink handle; *netlink.Handle has it.
type Netlink interface {
	LinkByName(name string) (netlink.Link, error)
	RouteReplace(route *netlink.Route) error
	RouteDel(route *netlink.Route) error
	RuleAdd(rule *netlink.Rule) error
	RuleDel(rule *netlink.Rule) error
}

// Tunnels is what the gateway needs of the tunnel supervisor.
type Tunnels interface {
	Start(ctx context.Context, s tunnel.Spec) error
	Reconfigure(ctx context.Context, s tunnel.Spec) error
	Stop(ctx context.Context, tap string) error
	Status(tap string) (tunnel.Status, bool)
	// NewSession makes a running tunnel start a new session.
	NewSession(tap string) error
	// Restart ends a tunnel's process at once and starts a new one.
	Restart(ctx context.Context, tap string) error
}

// KeyFetcher gets a hub's link key and ports; HTTPFetcher is the real one.
type KeyFetcher interface {
	FetchKey(ctx context.Context, hub HubAPI) (api.Key, error)
	// Release gives back the bridge a claim of FetchKey took.
	Release(ctx context.Context, hub HubAPI, bridge string) error
	// Rotate renews one link's secrets at the hub (the holder's call).
	Rotate(ctx context.Context, hub HubAPI, bridge string, r api.RotateRequest) (api.KeyLink, error)
	// ServerStatus reads the hub's bridges and links (to see one back).
	ServerStatus(ctx context.Context, hub HubAPI) (api.ServerStatusResponse, error)
}

// Options configures a Gateway.
type Options struct {
	Tunnels Tunnels
	Fetcher KeyFetcher
	// Identity is this gateway's tunnel certificate, for hubs whose
	// bridges run TLS mode.
	Identity tunnel.Identity
	// LinkIdentityDir keeps the certificates links have of their own
	// since a rotation, one dir per TAP.
	LinkIdentityDir string
	KeyDir          string     // where fetched keys are kept (0600)
	Token           string     // sent to hubs when a client gives no server_token
	Mark            owner.Mark // set on every bond, to know it after a crash ("": none)
	Journal         string     // file that lists the policy routing in place, for the next start ("": none)
	Dataplane       DataplaneOptions
	Logger          *slog.Logger
	// PeerExits delivers the TAPs whose hub end sent its exit
	// notification (tunnel.Options.PeerExit); Reclaim then watches the
	// hub and has the link start its new session as soon as the hub
	// serves it again. Nil: OpenVPN's own retries alone.
	PeerExits <-chan string
}

// Gateway runs the client role.
//
// mu guards the maps only: it is never held while a hub is asked for its
// key or a bond is brought up or torn down, so status, health and
// bond_params answer meanwhile. A bond being started or stopped is busy:
// its names and routing slot stay reserved until it is done.
type Gateway struct {
	opts     Options
	nl       Netlink
	sweeper  routeSweeper // nil: SweepRoutes does nothing (unit tests)
	bonds    bond.Driver
	watch    bondWatcher // told about bonds coming and going (nil: nobody)
	dp       *dataplane  // nil in unit tests: no probe, no engines
	steer    steering    // the engines, for a rotation (nil: none)
	journal  *journal    // the policy routing in place
	log      *slog.Logger
	mu       sync.Mutex
	clients  map[string]*client
	busy     map[string]*busy
	rotating map[string]bool // bonds whose links are being rotated
	setMu    sync.Mutex      // serialises SetBondParams
}

// busy is a bond being started or stopped without g.mu held.
type busy struct {
	doing string   // "started" or "stopped"
	names []string // the bond and its TAPs
	slot  int
	done  chan struct{} // closed when it is no longer busy
}

type client struct {
	cfg     api.Client
	slot    int
	keyFile string
	ports   []int
	routes  []linkRoute
	target  netip.Addr // the hub bridge's address
	started time.Time
	hub     HubAPI // where the key came from, and as whom
	bridge  string // the hub's bridge the links belong to
	mode    string // the bridge's tunnel mode (api.TunnelTLS, api.TunnelStatic)
	links   []gwLink
	adopted bool // its bond was there, left by an earlier run, and was taken over
}

// gwLink is what one link of a client has of its own.
type gwLink struct {
	id      tunnel.Identity // TLS: its own certificate since a rotation; zero: the daemon's
	peer    string          // TLS: the hub's certificate it accepts
	keyFile string          // static: its own key since a rotation; "": the bond's
}

// New returns a Gateway with no bonds yet, its data plane (bond drivers,
// probe, failover engines) ready. Close ends both.
func New(nl *netlink.Handle, opts Options) (*Gateway, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	j, err := openJournal(opts.Journal)
	if err != nil {
		return nil, err
	}
	dp, err := newDataplane(opts.Dataplane, nl, log)
	if err != nil {
		return nil, err
	}
	g := newGateway(opts, nl, dp.bonds, dp)
	g.dp, g.steer, g.journal, g.sweeper = dp, dp, j, nl
	return g, nil
}

// newGateway is a Gateway over the given netlink, bond driver and bond
// watcher (nil: none), without a data plane of its own.
func newGateway(opts Options, nl Netlink, bonds bond.Driver, watch bondWatcher) *Gateway {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	j, _ := openJournal("") // New replaces it with the state dir's
	return &Gateway{opts: opts, nl: nl, bonds: bonds, watch: watch, journal: j, log: log.With("role", "client"), clients: map[string]*client{}, busy: map[string]*busy{},
		rotating: map[string]bool{}}
}

// Start brings up the bond cfg describes. On error nothing it made is left.
// A start of a bond being started or stopped is errkind.KindConflict.
func (g *Gateway) Start(ctx context.Context, cfg api.Client) (api.ClientStatus, error) {
	if err := cfg.Check(); err != nil {
		return api.ClientStatus{}, err
	}
	g.mu.Lock()
	if err := g.checkFree(cfg); err != nil {
		g.mu.Unlock()
		return api.ClientStatus{}, err
	}
	slot := g.freeSlot()
	g.reserve(cfg.Bond, "started", append([]string{cfg.Bond}, cfg.Taps()...), slot)
	g.mu.Unlock()
	defer g.release(cfg.Bond)
	ifindex, err := g.hwIndexes(cfg)
	if err != nil {
		return api.ClientStatus{}, err
	}
	token := cfg.ServerToken
	if token == "" {
		token = g.opts.Token
	}
	own, err := g.ownIdentities(cfg.Taps())
	if err != nil {
		return api.ClientStatus{}, err
	}
	hub := HubAPI{URL: cfg.ServerAPIURL, Pin: cfg.ServerAPIPin, Bridge: cfg.ServerBridge, Token: token,
		GatewayID: g.opts.Mark.Instance(), Bond: cfg.Bond, Fingerprint: g.opts.Identity.Fingerprint, LinkFingerprints: fingerprints(own)}
	key, err := g.opts.Fetcher.FetchKey(ctx, hub)
	if err != nil {
		return api.ClientStatus{}, fmt.Errorf("fetch link key: %w", err)
	}
	if key.TunnelMode == "" {
		key.TunnelMode = api.TunnelStatic // a hub that predates modes
	}
	// A start that fails from here gives the bridge back, so that another
	// bond need not wait for the claim to lapse.
	started := false
	defer func() {
		if !started {
			g.releaseClaim(ctx, &client{cfg: cfg, hub: hub, bridge: key.Bridge})
		}
	}()
	if api.Cleartext(cfg.ServerAPIURL) {
		g.log.Warn("fetched the link key over plain http: the token and the key crossed the network in cleartext; use https:// with server_api_pin",
			"bond", cfg.Bond, "server_api_url", api.RedactURL(cfg.ServerAPIURL))
	}
	if len(key.Links) < len(cfg.Slaves) {
		return api.ClientStatus{}, errkind.Invalid(cfg.Field("slaves"), "%d slaves, but the hub's bridge %s serves %d links", len(cfg.Slaves), key.Bridge, len(key.Links))
	}
	hubIP, err := parseAddr(key.BridgeIP)
	if err != nil {
		return api.ClientStatus{}, errkind.Unavailable(err, "the hub sent bridge_ip %q", key.BridgeIP)
	}
	if len(cfg.Bonding.ArpIPTarget) == 0 {
		cfg.Bonding.ArpIPTarget = append(cfg.Bonding.ArpIPTarget, hubIP)
	}
	if err := cfg.Bonding.Check(cfg.Taps()); err != nil {
		return api.ClientStatus{}, err
	}
	c := &client{cfg: cfg, slot: slot, keyFile: filepath.Join(g.opts.KeyDir, cfg.Bond+".key"), target: hubIP, started: time.Now(),
		hub: hub, bridge: key.Bridge, mode: key.TunnelMode, links: make([]gwLink, len(cfg.Slaves)), adopted: g.left(cfg.Bond)}
	for i := range c.links {
		c.links[i].id = own[i]
	}
	if err := c.bringUp(ctx, g, key, ifindex); err != nil {
		return api.ClientStatus{}, err
	}
	st := g.status(ctx, c)
	g.mu.Lock()
	g.clients[cfg.Bond] = c // before release: the name is never free meanwhile
	g.mu.Unlock()
	g.linksUp(ctx, c)
	g.log.Info("client started", "bond", cfg.Bond, "address", cfg.Address, "slaves", len(cfg.Slaves), "hub", api.RedactURL(cfg.ServerAPIURL),
		"tunnel_mode", c.mode)
	started = true
	return st, nil
}

// reserve marks bond name busy with names and slot; g.mu is held.
func (g *Gateway) reserve(name, doing string, names []string, slot int) {
	g.busy[name] = &busy{doing: doing, names: names, slot: slot, done: make(chan struct{})}
}

// release ends what reserve began.
func (g *Gateway) release(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if b, ok := g.busy[name]; ok {
		close(b.done)
		delete(g.busy, name)
	}
}

// hwIndexes returns the ifindex of each slave's hw_int. A hw_int this host
// lacks is bad input, named by its field as decoding names it.
func (g *Gateway) hwIndexes(cfg api.Client) ([]int, error) {
	ifindex := make([]int, len(cfg.Slaves))
	for i, s := range cfg.Slaves {
		l, err := g.nl.LinkByName(s.HWInt)
		var nf netlink.LinkNotFoundError
		switch {
		case errors.As(err, &nf) || errors.Is(err, unix.ENODEV):
			return nil, errkind.Invalid(cfg.SlaveField(i, "hw_int"), "no interface %s on this host", s.HWInt)
		case err != nil:
			return nil, fmt.Errorf("look up hw_int %s: %w", s.HWInt, err)
		}
		ifindex[i] = l.Attrs().Index
	}
	return ifindex, nil
}

// bringUp makes the key file, routes, tunnels and bond, undoing all on error.
func (c *client) bringUp(ctx context.Context, g *Gateway, key api.Key, ifindex []int) (err error) {
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	bg := context.WithoutCancel(ctx)
	if key.TunnelMode == api.TunnelStatic {
		if err := os.MkdirAll(g.opts.KeyDir, 0o700); err != nil {
			return fmt.Errorf("create key dir: %w", err)
		}
		if err := tunnel.WriteKey(c.keyFile, []byte(key.Key)); err != nil {
			return fmt.Errorf("write link key: %w", err)
		}
		undo = append(undo, func() { _ = os.Remove(c.keyFile) })
		for i, tap := range c.cfg.Taps() {
			if key.Links[i].Key == "" {
				continue
			}
			f := g.linkKeyFile(tap)
			if err := tunnel.WriteKey(f, []byte(key.Links[i].Key)); err != nil {
				return fmt.Errorf("write key of %s: %w", tap, err)
			}
			c.links[i].keyFile = f
			undo = append(undo, func() { _ = os.Remove(f) })
		}
	} else if g.opts.Identity.CertFile == "" {
		return errkind.Unsupported(nil, "the hub's bridge %s runs TLS tunnels and this gateway has no tunnel certificate", key.Bridge)
	}
	taps := c.cfg.Taps()
	for i, s := range c.cfg.Slaves {
		lr := planRoute(c.slot, i, s, ifindex[i])
		if err := g.addRoute(lr); err != nil {
			return fmt.Errorf("pin link %s to %s: %w", taps[i], s.HWInt, err)
		}
		c.routes = append(c.routes, lr)
		undo = append(undo, func() { _ = g.delRoute(lr) })
		port := key.Links[i].Port
		c.ports = append(c.ports, port)
		c.links[i].peer = key.Fingerprint
		if key.Links[i].Fingerprint != "" {
			c.links[i].peer = key.Links[i].Fingerprint
		}
		if err := g.opts.Tunnels.Start(ctx, g.spec(c, i)); err != nil {
			return fmt.Errorf("start link %s: %w", taps[i], err)
		}
		tap := taps[i]
		undo = append(undo, func() { _ = g.opts.Tunnels.Stop(bg, tap) })
	}
	spec := bond.Spec{Name: c.cfg.Bond, Address: c.cfg.Address, Slaves: taps, Params: c.cfg.Bonding, Driver: c.cfg.Driver, Mark: g.opts.Mark}
	if err := g.bonds.Create(ctx, spec); err != nil {
		return err // the driver says "create bond <name>: ..."
	}
	return nil
}

// checkFree refuses a client whose bond or TAP names are taken; g.mu is held.
func (g *Gateway) checkFree(cfg api.Client) error {
	if _, ok := g.clients[cfg.Bond]; ok {
		return errkind.Conflict("client %s is already started", cfg.Bond)
	}
	if b, ok := g.busy[cfg.Bond]; ok {
		return errkind.Conflict("client %s is being %s", cfg.Bond, b.doing)
	}
	names := append([]string{cfg.Bond}, cfg.Taps()...)
	for other, b := range g.busy {
		for _, name := range names {
			if slices.Contains(b.names, name) {
				return errkind.Conflict("interface %s is used by client %s, being %s (give another bond name or tap_prefix)", name, other, b.doing)
			}
		}
	}
	for _, name := range names {
		// One of ours is what an earlier run left: started again over it,
		// it is taken over (adopted) rather than made anew.
		if l, err := g.nl.LinkByName(name); err == nil && !g.opts.Mark.Owns(l.Attrs().Alias) {
			return errkind.Conflict("interface %s exists already and is not ours (give another bond name or tap_prefix)", name)
		}
	}
	return nil
}

func (g *Gateway) freeSlot() int {
	used := map[int]bool{}
	for _, c := range g.clients {
		used[c.slot] = true
	}
	for _, b := range g.busy {
		used[b.slot] = true
	}
	for s := 0; ; s++ {
		if !used[s] {
			return s
		}
	}
}

// Stop removes the client of bond name and everything it made. A bond
// being started or stopped is errkind.KindConflict.
func (g *Gateway) Stop(ctx context.Context, name string) error { return g.stop(ctx, name, true) }

// stop removes a client; release gives its hub bridge back (an API stop),
// a daemon shutdown keeps the claim for the next start, as the hub keeps
// its own across restarts.
func (g *Gateway) stop(ctx context.Context, name string, release bool) error {
	g.mu.Lock()
	c, ok := g.clients[name]
	if !ok {
		b := g.busy[name]
		g.mu.Unlock()
		if b != nil {
			return errkind.Conflict("client %s is being %s; try again once that has answered", name, b.doing)
		}
		return errkind.NotFound("no client with bond %s is started", name)
	}
	if g.rotating[name] {
		g.mu.Unlock()
		return errkind.Conflict("the links of client %s are being rotated; try again once that has answered", name)
	}
	delete(g.clients, name)
	g.reserve(name, "stopped", append([]string{name}, c.cfg.Taps()...), c.slot)
	g.mu.Unlock()
	defer g.release(name)
	g.linksDown(ctx, name)
	var errs []error
	if err := g.bonds.Delete(ctx, name); err != nil && errkind.KindOf(err) != errkind.KindNotFound {
		errs = append(errs, fmt.Errorf("delete bond %s: %w", name, err))
	}
	if err := tunnel.StopAll(ctx, g.opts.Tunnels, c.cfg.Taps()); err != nil {
		errs = append(errs, err)
	}
	for _, lr := range c.routes {
		errs = append(errs, g.delRoute(lr))
	}
	if err := os.Remove(c.keyFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("remove key: %w", err))
	}
	// Static keys come back with the next claim; a link's own
	// certificate is kept across a daemon restart (the claim names it)
	// and goes with the bond.
	errs = append(errs, g.forgetOwn(c, release))
	if release {
		g.releaseClaim(ctx, c)
	}
	g.log.Info("client stopped", "bond", name)
	return errors.Join(errs...)
}

// releaseTimeout bounds the release of a claim at a client's stop.
const releaseTimeout = 10 * time.Second

// releaseClaim gives c's bridge back to its hub, so that another bond
// may take it. A hub that cannot be reached is logged: the claim lapses
// there once the links have been silent long enough, or the operator
// releases it.
func (g *Gateway) releaseClaim(ctx context.Context, c *client) {
	if c.hub.GatewayID == "" || c.bridge == "" {
		return
	}
	// Not cut short by the caller's cancellation (the stop went through),
	// but bounded by its deadline, if sooner.
	limit := releaseTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < limit {
		limit = max(time.Until(d), 0)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
	defer cancel()
	if err := g.opts.Fetcher.Release(ctx, c.hub, c.bridge); err != nil {
		g.log.Warn("could not release the hub's bridge: it stays held by this bond until its links have been silent for the hub's claim expiry, or the hub's operator releases it",
			"bond", c.cfg.Bond, "bridge", c.bridge, "err", err)
	}
}

// Close stops every client (daemon shutdown), once the starts and stops
// under way have ended (or ctx has), then the data plane: the engines, the
// probe and its programs, the bond drivers.
func (g *Gateway) Close(ctx context.Context) error {
	g.waitBusy(ctx)
	g.mu.Lock()
	names := make([]string, 0, len(g.clients))
	for n := range g.clients {
		names = append(names, n)
	}
	g.mu.Unlock()
	var errs []error
	for _, n := range names {
		errs = append(errs, g.stop(ctx, n, false))
	}
	if g.dp != nil {
		if err := g.dp.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stop probes and bond drivers: %w", err))
		}
	}
	return errors.Join(errs...)
}
