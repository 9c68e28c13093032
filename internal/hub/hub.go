package hub

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/owner"
	"github.com/multilink/multilink/internal/tunnel"
)

// Netlink is what the hub needs of a netlink handle; *netlink.Handle has it.
type Netlink interface {
	LinkAdd(link netlink.Link) error
	LinkDel(link netlink.Link) error
	LinkByName(name string) (netlink.Link, error)
	LinkSetMaster(link, master netlink.Link) error
	LinkSetUp(link netlink.Link) error
	AddrReplace(link netlink.Link, addr *netlink.Addr) error
	AddrList(link netlink.Link, family int) ([]netlink.Addr, error)
	AddrDel(link netlink.Link, addr *netlink.Addr) error
	LinkList() ([]netlink.Link, error)
	LinkSetAlias(link netlink.Link, name string) error
}

// Tunnels is what the hub needs of the tunnel supervisor.
type Tunnels interface {
	Start(ctx context.Context, s tunnel.Spec) error
	Reconfigure(ctx context.Context, s tunnel.Spec) error
	Stop(ctx context.Context, tap string) error
	Status(tap string) (tunnel.Status, bool)
}

// Options configures a Hub.
type Options struct {
	Netlink Netlink
	Tunnels Tunnels
	KeyDir  string     // where link keys are kept (0600)
	Mark    owner.Mark // set on every bridge, to know it after a crash ("": none)
	Logger  *slog.Logger
	// ClaimsFile keeps who holds each bridge across restarts ("": not kept).
	ClaimsFile string
	// ClaimExpiry: a holder silent on every link this long loses its
	// claim (0: DefaultClaimExpiry).
	ClaimExpiry time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Identity is this hub's tunnel certificate (TLS mode); without one,
	// only static mode can start.
	Identity tunnel.Identity
	// LinkIdentityDir keeps the certificates links have of their own
	// since a rotation (TLS mode), one dir per TAP.
	LinkIdentityDir string
	// Dedup drops the second copy of a frame a gateway sent over two of
	// its links (selective redundancy, docs/redundancy.md); it is put on
	// each TAP's ingress once enslaved (nil: none).
	Dedup DupFilter
}

// DupFilter is a duplicate filter on TAPs (*dedup.Filter).
type DupFilter interface {
	Attach(ctx context.Context, dev string) error
	Detach(ctx context.Context, dev string) error
}

// Hub runs the server role.
type Hub struct {
	opts    Options
	log     *slog.Logger
	mu      sync.Mutex
	servers map[string]*server
	saved   claimsFile // the claims file as last read or written
}

type server struct {
	cfg     api.Server
	keyFile string // the bridge's static key, of every link without its own
	started time.Time
	holder  *api.Holder // who holds the links; nil: nobody
	links   []hubLink
	quiet   silence
	// startedAt is the start on the hub's clock (Options.Now); peers
	// when each TAP last received a frame (peers.go).
	startedAt time.Time
	peers     map[string]peerSeen
}

// hubLink is what one link of a server has of its own.
type hubLink struct {
	// pin (TLS) is the certificate the link accepts; "": the hub's own
	// (nobody's yet). It is kept after a release or a lapse.
	pin string
	// id (TLS) is the link's own certificate since a rotation; zero: the
	// hub's.
	id tunnel.Identity
	// keyFile (static) is the link's own key since a rotation; "": the
	// bridge's.
	keyFile string
}

// New returns a Hub serving nothing yet.
func New(opts Options) *Hub {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.ClaimExpiry <= 0 {
		opts.ClaimExpiry = DefaultClaimExpiry
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log = log.With("role", "server")
	return &Hub{opts: opts, log: log, servers: map[string]*server{}, saved: loadClaims(opts.ClaimsFile, log)}
}

func (h *Hub) now() time.Time { return h.opts.Now() }

// Start serves cfg. On error nothing it made is left.
func (h *Hub) Start(ctx context.Context, cfg api.Server) (api.ServerStatus, error) {
	if err := cfg.Check(); err != nil {
		return api.ServerStatus{}, err
	}
	if cfg.TunnelMode == "" {
		cfg.TunnelMode = api.TunnelTLS
	}
	if cfg.TunnelMode == api.TunnelTLS && h.opts.Identity.CertFile == "" {
		return api.ServerStatus{}, errkind.Unsupported(nil, "this hub has no tunnel certificate for tunnel_mode %q; start with tunnel_mode %q", api.TunnelTLS, api.TunnelStatic)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.checkFree(cfg); err != nil {
		return api.ServerStatus{}, err
	}
	s := &server{cfg: cfg, keyFile: filepath.Join(h.opts.KeyDir, cfg.BridgeInterface+".key"), started: time.Now(),
		startedAt: h.now(), links: make([]hubLink, cfg.Links)}
	if err := h.loadOwn(s); err != nil {
		return api.ServerStatus{}, err
	}
	if who, ok := h.saved[cfg.BridgeInterface]; ok {
		s.holder, s.quiet = &who, silence{heard: h.now()}
		for i := range s.links {
			s.links[i].pin = who.LinkFingerprint(i)
		}
	}
	var undo []func()
	rollback := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	if cfg.TunnelMode == api.TunnelStatic {
		if err := os.MkdirAll(h.opts.KeyDir, 0o700); err != nil {
			return api.ServerStatus{}, fmt.Errorf("create key dir: %w", err)
		}
		_, statErr := os.Stat(s.keyFile)
		if err := tunnel.GenerateKey(s.keyFile); err != nil {
			return api.ServerStatus{}, fmt.Errorf("generate key for %s: %w", cfg.BridgeInterface, err)
		}
		if errors.Is(statErr, os.ErrNotExist) {
			undo = append(undo, func() { _ = os.Remove(s.keyFile) })
		}
	}
	br, err := h.addBridge(cfg)
	if err != nil {
		rollback()
		return api.ServerStatus{}, err
	}
	undo = append(undo, func() { _ = h.opts.Netlink.LinkDel(br) })
	for i, tap := range cfg.Taps() {
		if err := h.opts.Tunnels.Start(ctx, h.spec(s, i)); err != nil {
			rollback()
			return api.ServerStatus{}, fmt.Errorf("start link %s: %w", tap, err)
		}
		undo = append(undo, func() { _ = h.opts.Tunnels.Stop(context.WithoutCancel(ctx), tap) })
		if err := h.enslave(tap, br); err != nil {
			rollback()
			return api.ServerStatus{}, err
		}
		h.filter(ctx, tap)
	}
	if s.holder != nil {
		h.log.Info("bridge held as before the restart", "bridge", cfg.BridgeInterface, "holder", s.holder.String())
	}
	h.servers[cfg.BridgeInterface] = s
	h.log.Info("server started", "bridge", cfg.BridgeInterface, "address", cfg.BridgeIP, "links", cfg.Links, "port_base", cfg.PortBase,
		"tunnel_mode", cfg.TunnelMode)
	return h.status(s), nil
}

// checkFree refuses a server whose names or ports are taken.
func (h *Hub) checkFree(cfg api.Server) error {
	if _, ok := h.servers[cfg.BridgeInterface]; ok {
		return errkind.Conflict("server %s is already started", cfg.BridgeInterface)
	}
	taps := map[string]bool{}
	for _, t := range cfg.Taps() {
		taps[t] = true
	}
	for name, s := range h.servers {
		for _, t := range s.cfg.Taps() {
			if taps[t] {
				return errkind.Conflict("TAP %s is used by server %s (give another tap_prefix)", t, name)
			}
		}
		lo, hi := s.cfg.Port(1), s.cfg.Port(s.cfg.Links)
		if cfg.Port(1) <= hi && cfg.Port(cfg.Links) >= lo {
			return errkind.Conflict("ports %d-%d overlap server %s's %d-%d (give another port_base)", cfg.Port(1), cfg.Port(cfg.Links), name, lo, hi)
		}
	}
	for _, name := range append([]string{cfg.BridgeInterface}, cfg.Taps()...) {
		// One of ours is what an earlier run left: started again over it,
		// it is taken over (adopted) rather than made anew.
		if l, err := h.opts.Netlink.LinkByName(name); err == nil && !h.opts.Mark.Owns(l.Attrs().Alias) {
			return errkind.Conflict("interface %s exists already and is not ours", name)
		}
	}
	return h.checkSubnet(cfg)
}

// checkSubnet refuses a bridge whose subnet overlaps another bridge's or
// an address of this host's other interfaces (an underlay): the routes
// would fight. Interfaces of ours (a gateway bond beside the hub) are not
// underlays.
func (h *Hub) checkSubnet(cfg api.Server) error {
	subnet := cfg.BridgeIP.Masked()
	for name, s := range h.servers {
		if other := s.cfg.BridgeIP.Masked(); other.Overlaps(subnet) {
			return errkind.Conflict("bridge_ip %s overlaps server %s's subnet %s (give another bridge_ip)", subnet, name, other)
		}
	}
	links, err := h.opts.Netlink.LinkList()
	if err != nil {
		return fmt.Errorf("list interfaces: %w", err)
	}
	for _, l := range links {
		if h.opts.Mark.Owns(l.Attrs().Alias) || l.Attrs().Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := h.opts.Netlink.AddrList(l, netlink.FAMILY_V4)
		if errors.Is(err, unix.ENODEV) || errors.As(err, new(netlink.LinkNotFoundError)) {
			continue // gone since the list: it has no address to overlap
		}
		if err != nil {
			return fmt.Errorf("list the addresses of %s: %w", l.Attrs().Name, err)
		}
		for _, a := range addrs {
			p, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			bits, _ := a.Mask.Size()
			other := netip.PrefixFrom(p.Unmap(), bits).Masked()
			if other.Overlaps(subnet) {
				return errkind.Conflict("bridge_ip %s overlaps %s on %s (give another bridge_ip)", subnet, other, l.Attrs().Name)
			}
		}
	}
	return nil
}

func (h *Hub) addBridge(cfg api.Server) (netlink.Link, error) {
	if link, err := h.opts.Netlink.LinkByName(cfg.BridgeInterface); err == nil && h.opts.Mark.Owns(link.Attrs().Alias) {
		return h.adoptBridge(cfg, link)
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: cfg.BridgeInterface, HardwareAddr: h.bridgeMAC(cfg.BridgeInterface)}}
	if err := h.opts.Netlink.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("add bridge %s: %w", cfg.BridgeInterface, err)
	}
	link, err := h.opts.Netlink.LinkByName(cfg.BridgeInterface)
	if err != nil {
		_ = h.opts.Netlink.LinkDel(br)
		return nil, fmt.Errorf("find bridge %s: %w", cfg.BridgeInterface, err)
	}
	addr := &netlink.Addr{IPNet: api.IPNet(cfg.BridgeIP)}
	if h.opts.Mark != "" {
		if err := h.opts.Mark.Set(h.opts.Netlink, link); err != nil {
			_ = h.opts.Netlink.LinkDel(link)
			return nil, err
		}
	}
	if err := h.opts.Netlink.AddrReplace(link, addr); err != nil {
		_ = h.opts.Netlink.LinkDel(link)
		return nil, fmt.Errorf("address %s on bridge %s: %w", cfg.BridgeIP, cfg.BridgeInterface, err)
	}
	if err := h.opts.Netlink.LinkSetUp(link); err != nil {
		_ = h.opts.Netlink.LinkDel(link)
		return nil, fmt.Errorf("bring bridge %s up: %w", cfg.BridgeInterface, err)
	}
	return link, nil
}

// bridgeMAC is the bridge's MAC: derived from the owner mark and its name,
// so that a bridge rebuilt after a crash or a restart keeps it and the
// gateways' neighbour entries for bridge_ip stay right (a new random MAC
// would leave them pointing at the old one until they expire). Without a
// mark (tests) the kernel chooses.
func (h *Hub) bridgeMAC(name string) net.HardwareAddr {
	if h.opts.Mark == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(string(h.opts.Mark) + "/" + name))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02 // unicast, locally administered
	return mac
}

// filter puts the duplicate filter on tap (afresh: a TAP of the same
// name may have been remade since). Without it a gateway's copies reach
// the hub's host twice while it duplicates: worth a warning, not a
// refusal.
func (h *Hub) filter(ctx context.Context, tap string) {
	if h.opts.Dedup == nil {
		return
	}
	_ = h.opts.Dedup.Detach(ctx, tap) // not on it yet: nothing to do
	if err := h.opts.Dedup.Attach(ctx, tap); err != nil {
		h.log.Warn("no duplicate filter on the link: a gateway's copies reach this host twice", "link", tap, "err", err)
	}
}

func (h *Hub) enslave(tap string, br netlink.Link) error {
	link, err := h.opts.Netlink.LinkByName(tap)
	if err != nil {
		return fmt.Errorf("find %s: %w", tap, err)
	}
	if err := h.opts.Netlink.LinkSetMaster(link, br); err != nil {
		return fmt.Errorf("enslave %s in %s: %w", tap, br.Attrs().Name, err)
	}
	return nil
}

// Stop removes the server of bridge name and everything it made, its key too.
func (h *Hub) Stop(ctx context.Context, name string) error { return h.stop(ctx, name, false) }

// stop removes a server; keepKey keeps its link key for the next start.
func (h *Hub) stop(ctx context.Context, name string, keepKey bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.servers[name]
	if !ok {
		return errkind.NotFound("no server with bridge %s is started", name)
	}
	var errs []error
	if h.opts.Dedup != nil {
		for _, tap := range s.cfg.Taps() {
			_ = h.opts.Dedup.Detach(ctx, tap) // the TAP goes with its tunnel anyway
		}
	}
	if err := tunnel.StopAll(ctx, h.opts.Tunnels, s.cfg.Taps()); err != nil {
		errs = append(errs, err)
	}
	if link, err := h.opts.Netlink.LinkByName(name); err == nil {
		if err := h.opts.Netlink.LinkDel(link); err != nil {
			errs = append(errs, fmt.Errorf("delete bridge %s: %w", name, err))
		}
	}
	if !keepKey {
		if err := os.Remove(s.keyFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove key: %w", err))
		}
		errs = append(errs, h.forgetOwn(s))
	}
	delete(h.servers, name)
	if _, saved := h.saved[name]; !keepKey && saved {
		// The bridge is gone, and its claim with it (a restart keeps both).
		delete(h.saved, name)
		if err := h.saveClaims(); err != nil {
			errs = append(errs, err)
		}
	}
	h.log.Info("server stopped", "bridge", name)
	return errors.Join(errs...)
}

// Close stops every server (daemon shutdown), keeping the link keys so the
// gateways' keys stay valid when the daemon comes back.
func (h *Hub) Close(ctx context.Context) error {
	var errs []error
	for _, name := range h.names() {
		errs = append(errs, h.stop(ctx, name, true))
	}
	return errors.Join(errs...)
}

func (h *Hub) names() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.servers))
	for n := range h.servers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Configs returns the configuration of every started server, by bridge name.
func (h *Hub) Configs() []api.Server {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]api.Server, 0, len(h.servers))
	for _, s := range h.servers {
		out = append(out, s.cfg)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].BridgeInterface < out[j].BridgeInterface })
	return out
}

// Status returns every started server, by bridge name.
func (h *Hub) Status(ctx context.Context) []api.ServerStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]api.ServerStatus, 0, len(h.servers))
	for _, s := range h.servers {
		out = append(out, h.status(s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Bridge < out[j].Bridge })
	return out
}

func (h *Hub) status(s *server) api.ServerStatus {
	st := api.ServerStatus{Bridge: s.cfg.BridgeInterface, BridgeIP: s.cfg.BridgeIP.Addr().String(), TunnelMode: s.cfg.TunnelMode, Started: s.started}
	if s.holder != nil {
		held := *s.holder
		st.Holder = &held
	}
	if _, err := h.opts.Netlink.LinkByName(s.cfg.BridgeInterface); err == nil {
		st.Present = true
	}
	for i, tap := range s.cfg.Taps() {
		ls := api.ServerLink{Tap: tap, Port: s.cfg.Port(i + 1)}
		if ts, ok := h.opts.Tunnels.Status(tap); ok {
			ls.Running, ls.Restarts, ls.Up = ts.Running, ts.Restarts, ts.AdminUp
		}
		st.Links = append(st.Links, ls)
	}
	return st
}

// Key returns what a gateway needs to connect to bridge (the only one when
// bridge is empty): the spec's key fetch, without an identity. A bridge
// someone holds is not given to an unnamed gateway (errkind.Conflict).
func (h *Hub) Key(ctx context.Context, bridge string) (api.Key, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, err := h.server(bridge, "bridge")
	if err != nil {
		return api.Key{}, err
	}
	if s.cfg.TunnelMode == api.TunnelTLS {
		return api.Key{}, errkind.Conflict("bridge %s runs TLS tunnels: there is no shared key to fetch; a multilink gateway claims the bridge "+
			"(POST /v1/server/claim), or start the server with tunnel_mode %q for gateways that fetch the spec's key", s.cfg.BridgeInterface, api.TunnelStatic)
	}
	if s.holder != nil {
		return api.Key{}, errkind.Conflict("bridge %s is held by %s: a gateway that does not name itself (GET /v1/server/key) cannot share it; "+
			"stop that client, or release the bridge (POST /v1/server/release/%s)", s.cfg.BridgeInterface, s.holder, s.cfg.BridgeInterface)
	}
	return h.key(s)
}

// server is the started server of bridge, the only one when bridge is
// empty; field names the bridge in the request (h.mu held).
func (h *Hub) server(bridge, field string) (*server, error) {
	if bridge == "" {
		if len(h.servers) != 1 {
			if len(h.servers) == 0 {
				return nil, errkind.NotFound("no server is started")
			}
			return nil, errkind.Invalid(field, "%d servers are started: name one", len(h.servers))
		}
		for _, s := range h.servers {
			return s, nil
		}
	}
	s, ok := h.servers[bridge]
	if !ok {
		return nil, errkind.NotFound("no server with bridge %s is started", bridge)
	}
	return s, nil
}

// key is what a gateway needs to connect to s: the static key, or in TLS
// mode the hub's fingerprint (no secret).
func (h *Hub) key(s *server) (api.Key, error) {
	bridge := s.cfg.BridgeInterface
	k := api.Key{Bridge: bridge, BridgeIP: s.cfg.BridgeIP.Addr().String(), TunnelMode: s.cfg.TunnelMode}
	for i, tap := range s.cfg.Taps() {
		k.Links = append(k.Links, api.KeyLink{Tap: tap, Port: s.cfg.Port(i + 1), Fingerprint: s.links[i].id.Fingerprint})
	}
	if s.cfg.TunnelMode == api.TunnelTLS {
		k.Fingerprint, k.Cipher = h.opts.Identity.Fingerprint, tunnel.DataCiphers
		return k, nil
	}
	// The spec's one key is the first link's; a link with its own since
	// a rotation also has it in its entry.
	for i := range s.links {
		if s.links[i].keyFile == "" {
			continue
		}
		data, err := os.ReadFile(s.links[i].keyFile)
		if err != nil {
			return api.Key{}, fmt.Errorf("read key of %s: %w", k.Links[i].Tap, err)
		}
		k.Links[i].Key = string(data)
	}
	if k.Links[0].Key != "" {
		k.Key = k.Links[0].Key
	} else {
		data, err := os.ReadFile(s.keyFile)
		if err != nil {
			return api.Key{}, fmt.Errorf("read key of %s: %w", bridge, err)
		}
		k.Key = string(data)
	}
	k.Cipher, k.Auth = tunnel.Cipher, tunnel.Auth
	return k, nil
}

// spec is the tunnel of s's link i (0-based): in TLS mode it presents
// the link's own certificate or the hub's, and accepts the certificate
// of the holder it was last given, or, before any claim, only the hub's
// own (no gateway has it: the link waits for a claim). In static mode it
// uses the link's own key or the bridge's.
func (h *Hub) spec(s *server, i int) tunnel.Spec {
	sp := tunnel.Spec{Tap: s.cfg.Taps()[i], Role: tunnel.Server, Port: s.cfg.Port(i + 1)}
	l := s.links[i]
	if s.cfg.TunnelMode != api.TunnelTLS {
		sp.Mode, sp.KeyFile = tunnel.ModeStatic, s.keyFile
		if l.keyFile != "" {
			sp.KeyFile = l.keyFile
		}
		return sp
	}
	id, peer := h.opts.Identity, h.opts.Identity.Fingerprint
	if l.id.CertFile != "" {
		id = l.id
	}
	if l.pin != "" {
		peer = l.pin
	}
	sp.Mode, sp.CertFile, sp.CertKeyFile, sp.PeerFingerprints = tunnel.ModeTLS, id.CertFile, id.KeyFile, []string{peer}
	return sp
}

// reconfigure gives the links of s that which names their specs now
// (all at once: each restart takes a second, openvpn's exit notification).
func (h *Hub) reconfigure(ctx context.Context, s *server, which []int) error {
	errs := make([]error, len(which))
	var wg sync.WaitGroup
	for k, i := range which {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = h.opts.Tunnels.Reconfigure(ctx, h.spec(s, i))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// loadOwn finds what s's links have of their own since a rotation: a
// certificate (TLS) or a key (static).
func (h *Hub) loadOwn(s *server) error {
	for i, tap := range s.cfg.Taps() {
		if s.cfg.TunnelMode == api.TunnelTLS {
			if h.opts.LinkIdentityDir == "" {
				continue
			}
			id, ok, err := tunnel.LinkIdentity(h.opts.LinkIdentityDir, tap)
			if err != nil {
				return err
			}
			if ok {
				s.links[i].id = id
			}
			continue
		}
		if f := h.linkKeyFile(tap); fileExists(f) {
			s.links[i].keyFile = f
		}
	}
	return nil
}

// forgetOwn removes what s's links have of their own (a stop).
func (h *Hub) forgetOwn(s *server) error {
	var errs []error
	for _, tap := range s.cfg.Taps() {
		if err := os.Remove(h.linkKeyFile(tap)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove key of %s: %w", tap, err))
		}
		if h.opts.LinkIdentityDir != "" {
			errs = append(errs, tunnel.ForgetLinkIdentity(h.opts.LinkIdentityDir, tap))
		}
	}
	return errors.Join(errs...)
}

// linkKeyFile is where link tap keeps its own static key.
func (h *Hub) linkKeyFile(tap string) string { return filepath.Join(h.opts.KeyDir, tap+".key") }

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
