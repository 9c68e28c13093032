package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/multilink/multilink/internal/bpfpin"
	"github.com/multilink/multilink/internal/buildinfo"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/apilisten"
	"github.com/multilink/multilink/internal/apitls"
	"github.com/multilink/multilink/internal/config"
	"github.com/multilink/multilink/internal/gateway"
	"github.com/multilink/multilink/internal/hub"
	"github.com/multilink/multilink/internal/notify"
	"github.com/multilink/multilink/internal/owner"
	"github.com/multilink/multilink/internal/ping"
	"github.com/multilink/multilink/internal/restapi"
	"github.com/multilink/multilink/internal/sdnotify"
	"github.com/multilink/multilink/internal/tunnel"
)

// Options are the daemon's settings (its flags).
type Options struct {
	Listen     string // API address, default 0.0.0.0:3333
	StateDir   string // default /var/lib/multilink
	Token      string // from MULTILINK_API_TOKEN
	TokenFile  string // --token-file
	Insecure   bool   // --insecure-no-auth; ignored when a token is configured
	ConfigFile string // --config
	OpenVPN    string // openvpn binary; default from PATH
	// MaxInFlight (--api-max-in-flight): API requests served at once;
	// more are answered 429 but for /health and /metrics (0: 32).
	MaxInFlight int
	// TunnelRekey (--tunnel-rekey): how often the hub's ends of TLS
	// tunnels renegotiate their data channel keys (0:
	// tunnel.DefaultRekey).
	TunnelRekey time.Duration
	// TunnelKeepalive (--tunnel-keepalive): the openvpn ping on a link
	// that carries nothing else (NAT mappings); 0: tunnel.DefaultKeepalive.
	TunnelKeepalive time.Duration
	// TunnelNice (--tunnel-nice): the niceness of the openvpn processes.
	TunnelNice int
	// OpenVPNUser (--openvpn-user) is the user openvpn drops to after its
	// start, with its primary group; "" keeps it root.
	OpenVPNUser string
	BondDriver  string // --bond-driver: auto (default), kernel or ebpf
	NoFailover  bool   // --no-failover: probe only, the bond's own monitor decides
	TLSCert     string // --tls-cert: the API's certificate (PEM); empty: generated into <state-dir>/tls
	TLSKey      string // --tls-key: its private key (PEM)
	// InsecurePlainHTTP (--insecure-plain-http) serves plain HTTP to any
	// client, not only loopback: tokens and link keys then cross the
	// network in cleartext. Warned at every start, in /health and status.
	InsecurePlainHTTP bool
	// ClaimExpiry (--claim-expiry): a gateway bond silent on every link
	// of the bridge it holds this long loses its claim (0: 10 minutes).
	ClaimExpiry time.Duration
	Version     string
	Commit      string // "" : the one Go recorded (buildinfo)
	// Keep (--keep-dataplane): what the exit leaves running (KeepNone:
	// nothing). A start adopts what an earlier run left whatever it is.
	Keep Keep
	// BPFFS (--bpffs): the bpf file system the eBPF objects are pinned in
	// ("": DefaultBPFFS).
	BPFFS string
	// APIGroup may read the endpoint (api.json), so that
	// its members' multilink status, watch and events reach the daemon.
	APIGroup string
	Logger   *slog.Logger
	// Ready, if set, receives the API's bound address once it listens.
	Ready func(addr net.Addr)
}

// Defaults for Options.
const (
	DefaultListen   = "0.0.0.0:3333"
	DefaultStateDir = "/var/lib/multilink"
	shutdownTimeout = 20 * time.Second
)

// Run runs the daemon until ctx ends, then tears down what it made, or
// leaves it running (Options.Keep).
func Run(ctx context.Context, o Options) error {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir
	}
	share, err := lookupReaders(o.APIGroup)
	if err != nil {
		return err
	}
	dir, err := openStateDir(o.StateDir, share, log)
	if err != nil {
		return err
	}
	defer dir.Close()
	var file config.File
	if o.ConfigFile != "" {
		f, err := config.LoadFile(o.ConfigFile)
		if err != nil {
			return err
		}
		file = f
	}
	hooks, err := notify.New(notify.Options{Hooks: file.Hooks, Logger: log})
	if err != nil {
		return fmt.Errorf("config %s: %w", o.ConfigFile, err)
	}
	// Before anything is made: a state file that cannot be read stops the
	// daemon, which never starts empty over it.
	saved, err := newStore(o.StateDir).load()
	if err != nil {
		return err
	}
	token, err := apiToken(o, log)
	if err != nil {
		return err
	}
	mark, err := owner.Load(o.StateDir)
	if err != nil {
		return err
	}
	nl, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("open netlink: %w", err)
	}
	defer nl.Close()
	// What an earlier run of this state dir left (a kept data plane, or a
	// crash's) is adopted by the starts below, each object where it is
	// still what the desired state asks for; the lock says no other daemon
	// uses the mark. What nothing adopted is swept once they are done.
	tunnelDir := filepath.Join(o.StateDir, "tunnels")
	keep := effectiveKeep(o.Keep, log)
	pins, pinWarning := pinDir(o.BPFFS, mark, log)
	ovUser, ovGroup, err := openvpnAccount(o.OpenVPNUser, log)
	if err != nil {
		return err
	}
	// A hub end that exits is reported to the gateway, which watches for
	// the hub's return (dropped when it lags: OpenVPN retries anyway).
	peerExits := make(chan string, 16)
	tunnels, err := tunnel.NewManager(tunnel.Options{Dir: tunnelDir, OpenVPN: o.OpenVPN, Alias: string(mark), Logger: log,
		User: ovUser, Group: ovGroup, Rekey: o.TunnelRekey, Keepalive: o.TunnelKeepalive, Nice: o.TunnelNice, Keep: keep == KeepAll,
		PeerExit: func(tap string) {
			select {
			case peerExits <- tap:
			default:
			}
		}})
	if err != nil {
		return fmt.Errorf("start tunnel supervisor: %w", err)
	}
	keys := filepath.Join(o.StateDir, "keys")
	// This daemon's tunnel certificate (TLS mode), the same for its
	// bridges and bonds; peers pin its fingerprint.
	id, err := tunnel.LoadIdentity(filepath.Join(o.StateDir, "identity"))
	// Links with a certificate of their own since a rotation keep it
	// here, one dir per TAP (TAP names are unique on the host).
	linkIDs := filepath.Join(o.StateDir, "identity", "links")
	if err != nil {
		closeTunnels(log, tunnels)
		return err
	}
	log.Info("tunnel identity", "fingerprint", id.Fingerprint)
	gw, err := gateway.New(nl, gateway.Options{Tunnels: tunnels, Fetcher: gateway.HTTPFetcher{}, KeyDir: keys, Token: token, Mark: mark, Identity: id,
		LinkIdentityDir: linkIDs,
		Journal:         filepath.Join(o.StateDir, "routes.json"), Logger: log, PeerExits: peerExits,
		Dataplane: gateway.DataplaneOptions{BondDriver: o.BondDriver, NoFailover: o.NoFailover, Probe: file.Probe, Policy: file.Policy,
			PinDir: pins}})
	if err != nil {
		closeTunnels(log, tunnels)
		return err
	}
	dup := &dupFilter{nl: nl, log: log}
	defer func() {
		if err := dup.Close(); err != nil {
			log.Warn("unload the duplicate filter", "err", err)
		}
	}()
	hb := hub.New(hub.Options{Netlink: nl, Tunnels: tunnels, KeyDir: keys, Mark: mark, Logger: log,
		ClaimsFile: filepath.Join(o.StateDir, "claims.json"), ClaimExpiry: o.ClaimExpiry, Identity: id,
		LinkIdentityDir: linkIDs, Dedup: dup})
	r := newRoles(hb, gw, newStore(o.StateDir), log)
	defer func() {
		if keep == KeepNone {
			teardown(log, r, tunnels)
			if pins != "" {
				if err := bpfpin.RemoveAll(pins); err != nil {
					log.Warn("remove the eBPF pins' directory", "dir", pins, "err", err)
				}
			}
		} else {
			leave(log, keep, r, tunnels)
		}
	}()
	defer hooks.Close(hooksDrain) // first: the hooks' last events before the teardown
	want := desired(saved, file)
	if err := pruneFiles(o.StateDir, want, log); err != nil {
		log.Warn("remove files an earlier run left", "err", err)
	}
	runHooks(ctx, hooks, gw, log) // before the restore: its bonds' first events count
	r.restore(ctx, want)
	if err := sweepLeftovers(ctx, nl, mark, r, tunnels, log); err != nil {
		log.Warn("some of what an earlier run left stays", "err", err)
	}
	go hb.ExpireClaims(ctx)
	go gw.Reclaim(ctx)

	reg, err := NewRegistry(append(append(gw.Collectors(), hb.Collector(), PendingCollector(r)), hooks.Collectors()...), buildinfo.Read(o.Version, o.Commit))
	if err != nil {
		return fmt.Errorf("build metrics: %w", err)
	}
	router, err := restapi.NewRouter(restapi.Deps{
		Hub:         hubRole{r},
		Gateway:     gatewayRole{r},
		Taps:        tapControl{tunnels},
		Pinger:      ping.New(log),
		Health:      health{r: r},
		Warnings:    warnings{r: r, plain: o.InsecurePlainHTTP, pins: pinWarning}.list,
		Links:       gw,
		Failover:    gw,
		Metrics:     metricsHandler(reg),
		Version:     o.Version,
		Token:       token,
		Insecure:    token == "",
		Logger:      log,
		MaxInFlight: o.MaxInFlight,
	})
	if err != nil {
		return fmt.Errorf("build API: %w", err)
	}
	certs, err := apiCerts(ctx, o, log)
	if err != nil {
		return err
	}
	sd, ready := sdnotify.New(log), o.Ready
	o.Ready = func(addr net.Addr) {
		if ready != nil {
			ready(addr)
		}
		notifyReady(ctx, sd, health{r: r}, keep)
	}
	return serve(ctx, log, o, share, router, certs)
}

// apiCerts loads the API's TLS certificate: the operator's, or the state
// dir's self-signed one (its key kept across renewals, so the pin holds).
// The pin goes to the log at every start.
func apiCerts(ctx context.Context, o Options, log *slog.Logger) (*apitls.Source, error) {
	dir := filepath.Join(o.StateDir, "tls")
	if o.TLSCert == "" && o.TLSKey == "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	src, err := apitls.Load(ctx, apitls.Options{Dir: dir, CertFile: o.TLSCert, KeyFile: o.TLSKey, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("load the API's TLS certificate: %w", err)
	}
	log.Info("API TLS: gateways pin this hub with server_api_pin", "pin", src.Pin())
	return src, nil
}

// renewEvery is how often the API's self-signed certificate is checked
// for renewal (it is reissued 30 days before it expires, same key).
const renewEvery = 24 * time.Hour

// serve runs the HTTP server until ctx ends, then shuts it down gracefully.
// The port speaks TLS; plain HTTP only to loopback clients, or to anyone
// with --insecure-plain-http.
func serve(ctx context.Context, log *slog.Logger, o Options, share readers, h http.Handler, certs *apitls.Source) error {
	tcp, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Listen, err)
	}
	if o.InsecurePlainHTTP {
		log.Warn(plainHTTPWarning)
	}
	ln := apilisten.New(tcp, apilisten.Options{TLS: certs.TLSConfig(), AllowPlain: o.InsecurePlainHTTP, Logger: log})
	go renew(ctx, log, certs)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second, // a client start waits for its hub and tunnels
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		// net/http's own messages (TLS handshake errors: scanners, a
		// gateway refusing our key) go to our log, at debug.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	log.Info("API listening", "addr", ln.Addr().String(), "version", o.Version)
	publishEndpoint(o, share, ln.Addr(), certs.Pin(), log)
	defer func() {
		if err := removeEndpoint(o.StateDir); err != nil {
			log.Warn("the command line may look for this stopped daemon", "err", err)
		}
	}()
	if o.Ready != nil {
		o.Ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve API: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("API shutdown", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve API: %w", err)
	}
	return nil
}

// teardown removes everything the roles made; the desired state stays
// saved. It ends the retries of pending entries first, so that none starts
// anything behind its back.
func teardown(log *slog.Logger, r *roles, tunnels *tunnel.Manager) {
	r.stopRetries()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := r.gw.Close(ctx); err != nil {
		log.Error("tear down clients and the data plane", "err", err)
	}
	if err := r.hub.Close(ctx); err != nil {
		log.Error("tear down servers", "err", err)
	}
	closeTunnels(log, tunnels)
	log.Info("stopped; everything this daemon made is removed")
}

// closeTunnels stops the tunnel supervisor and every tunnel it runs.
func closeTunnels(log *slog.Logger, tunnels *tunnel.Manager) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := tunnels.Close(ctx); err != nil {
		log.Error("stop tunnels", "err", err)
	}
}

// renew reissues the API's certificate when it nears expiry, until ctx ends.
func renew(ctx context.Context, log *slog.Logger, certs *apitls.Source) {
	t := time.NewTicker(renewEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := certs.MaybeRenew(now); err != nil {
				log.Error("renew the API's TLS certificate", "err", err)
			}
		}
	}
}

// openvpnAccount is the user and group openvpn drops to: name and its
// primary group ("", "" for none). Without the capabilities to drop and
// keep CAP_NET_ADMIN (a container that lacks them) openvpn keeps the
// daemon's user, with a warning.
func openvpnAccount(name string, log *slog.Logger) (string, string, error) {
	if name == "" {
		return "", "", nil
	}
	if missing := missingCaps(unix.CAP_SETUID, unix.CAP_SETGID, unix.CAP_SETPCAP); len(missing) > 0 {
		log.Warn("openvpn keeps this daemon's user: dropping to --openvpn-user needs capabilities this process lacks", "user", name, "missing", missing)
		return "", "", nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return "", "", fmt.Errorf("--openvpn-user %s: %w (create the user, or give --openvpn-user= to keep openvpn root)", name, err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return "", "", fmt.Errorf("--openvpn-user %s: its group %s: %w", name, u.Gid, err)
	}
	return u.Username, g.Name, nil
}

// missingCaps names the capabilities of caps this process does not have
// (effective); all of them when they cannot be read.
func missingCaps(caps ...int) []string {
	names := map[int]string{unix.CAP_SETUID: "CAP_SETUID", unix.CAP_SETGID: "CAP_SETGID", unix.CAP_SETPCAP: "CAP_SETPCAP"}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	err := unix.Capget(&hdr, &data[0])
	var out []string
	for _, c := range caps {
		if err != nil || data[c/32].Effective&(1<<(uint(c)%32)) == 0 {
			out = append(out, names[c])
		}
	}
	return out
}
