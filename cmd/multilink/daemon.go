package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/multilink/multilink/internal/daemon"
	"github.com/multilink/multilink/internal/hub"
	"github.com/multilink/multilink/internal/restapi"
	"github.com/multilink/multilink/internal/tunnel"
)

const daemonUsage = "usage: multilink daemon [flags]\n\nflags:\n"

func daemonCommand() command {
	return command{name: "daemon", summary: "run the multilink daemon (REST API, tunnels, bridge/bond)", usage: daemonUsage, setup: daemonFlags}
}

func daemonFlags(fs *flag.FlagSet) action {
	o := daemon.Options{Version: version, Commit: commit, Token: os.Getenv(daemon.TokenEnv)}
	fs.StringVar(&o.Listen, "listen", daemon.DefaultListen, "API listen address")
	fs.StringVar(&o.StateDir, "state-dir", daemon.DefaultStateDir, "directory for state, keys, token and tunnel configs (0700)")
	fs.StringVar(&o.TokenFile, "token-file", "", "file holding the API token (default: $"+daemon.TokenEnv+", else <state-dir>/token, generated)")
	fs.BoolVar(&o.Insecure, "insecure-no-auth", false, "serve the API without authentication (warned at every start); ignored when $"+daemon.TokenEnv+" or --token-file gives a token")
	fs.StringVar(&o.APIGroup, "api-group", "", "a group whose members may run multilink status, watch and events: the state dir becomes 0710 in that group and its api.json 0640 (not the token: reads need none)")
	fs.StringVar(&o.ConfigFile, "config", "", "YAML file declaring servers/clients to start at boot (check it with: multilink config check FILE)")
	fs.StringVar(&o.OpenVPN, "openvpn", "", "openvpn binary (default: from PATH)")
	fs.StringVar(&o.OpenVPNUser, "openvpn-user", "nobody", "user openvpn drops to once it has read its keys and opened its TAP and socket (it keeps CAP_NET_ADMIN; needs CAP_SETUID, CAP_SETGID and CAP_SETPCAP); empty: openvpn stays root")
	fs.BoolVar(&o.NoFailover, "no-failover", false, "probe the links but leave failover to the bond's own monitor (the kernel bond's ARP monitor; for comparisons)")
	fs.StringVar(&o.BondDriver, "bond-driver", "auto", "gateway bonds: auto (the kernel's bonding driver where it exists, else eBPF), kernel or ebpf")
	fs.StringVar(&o.TLSCert, "tls-cert", "", "the API's TLS certificate, PEM (default: a self-signed one in <state-dir>/tls, its key kept so the pin holds)")
	fs.StringVar(&o.TLSKey, "tls-key", "", "the private key of --tls-cert, PEM")
	fs.BoolVar(&o.InsecurePlainHTTP, "insecure-plain-http", false, "also answer plain HTTP from any address, not only loopback: API tokens and link keys then cross the network in cleartext (for gateways that use the spec's http:// server_api_url; warned at every start, in /health and status)")
	fs.IntVar(&o.MaxInFlight, "api-max-in-flight", restapi.DefaultMaxInFlight, "API requests served at once; more are answered 429 with Retry-After at once (never /health and /metrics), so that a flood does not starve the probe and the failover engine")
	fs.IntVar(&o.TunnelNice, "tunnel-nice", tunnel.DefaultNice, "the niceness (-20 to 19) of the openvpn processes: each forwards its link's packets and probe replies, so on a busy CPU a negative value keeps replies from coming late enough to look like a dead link")
	fs.DurationVar(&o.TunnelRekey, "tunnel-rekey", tunnel.DefaultRekey, "hub, TLS tunnels: how often each link's data channel gets new keys from a new TLS exchange (forward secrecy; the data flows on meanwhile; gateways follow the hub's pace); at least 10s")
	fs.DurationVar(&o.TunnelKeepalive, "tunnel-keepalive", tunnel.DefaultKeepalive, "every tunnel: the openvpn ping sent on a link that carried nothing else for that long (about 90 bytes each way); it keeps NAT mappings of the link's UDP flow alive, so keep it below the shortest NAT UDP timeout on the path (some mobile carriers drop idle mappings after 30 s); longer costs a standby link less. Whole seconds, 1s to 5m; a silent session restarts after max(60 s, 4 pings)")
	fs.DurationVar(&o.ClaimExpiry, "claim-expiry", hub.DefaultClaimExpiry, "hub: a gateway bond silent on every link of the bridge it holds this long loses its claim, and another may take the bridge")
	fs.Var(&keepFlag{&o.Keep}, "keep-dataplane", "at exit, leave the data plane running for the next daemon of this --state-dir to adopt (a restart or an upgrade without an outage): the flag alone or =all leaves bonds, bridges, TAPs, routes, eBPF pins and the openvpn processes; =kernel leaves all but the openvpn processes (containers); without it the exit removes everything. multilink purge removes a kept data plane")
	fs.StringVar(&o.BPFFS, "bpffs", daemon.DefaultBPFFS, "the bpf file system eBPF programs, maps and links are pinned in (under multilink/<instance>), so that they outlive the daemon; mounted there when it is not one")
	memLimit := fs.Int("memory-limit-mib", defaultMemoryLimitMiB, "the Go runtime's soft limit on the daemon's own memory (heap, stacks; not its code), in MiB: the garbage collector works harder as the heap nears it, so that a gateway read hard through its API stays within its memory budget; 0: no limit. Without this flag, $"+memoryLimitEnv+" takes precedence when set")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "text", "log format: text or json")
	return func(args []string, _, stderr io.Writer) error {
		if err := noArgs("daemon", args); err != nil {
			return err
		}
		if o.MaxInFlight < 1 {
			return usagef("--api-max-in-flight %d: want at least 1", o.MaxInFlight)
		}
		if o.TunnelNice < -20 || o.TunnelNice > 19 {
			return usagef("--tunnel-nice %d: want -20 to 19", o.TunnelNice)
		}
		if o.TunnelRekey < tunnel.MinRekey {
			return usagef("--tunnel-rekey %s: want at least %s", o.TunnelRekey, tunnel.MinRekey)
		}
		if o.TunnelKeepalive < tunnel.MinKeepalive || o.TunnelKeepalive > tunnel.MaxKeepalive || o.TunnelKeepalive%time.Second != 0 {
			return usagef("--tunnel-keepalive %s: want whole seconds, %s to %s", o.TunnelKeepalive, tunnel.MinKeepalive, tunnel.MaxKeepalive)
		}
		if o.ClaimExpiry < time.Minute {
			return usagef("--claim-expiry %s: want at least 1m (a holder is looked at every 30 s)", o.ClaimExpiry)
		}
		if err := checkMemoryLimit(*memLimit); err != nil {
			return err
		}
		log, err := newLogger(stderr, *level, *format)
		if err != nil {
			return err
		}
		o.Logger = log
		applyMemoryLimit(log, *memLimit, flagGiven(fs, "memory-limit-mib"), os.Getenv(memoryLimitEnv))
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return daemon.Run(ctx, o)
	}
}

// flagGiven reports whether the command line set the flag name.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// keepFlag is --keep-dataplane: a boolean flag that also takes =all,
// =kernel or =none.
type keepFlag struct{ k *daemon.Keep }

func (f *keepFlag) String() string {
	if f.k == nil || *f.k == daemon.KeepNone {
		return ""
	}
	return string(*f.k)
}

func (f *keepFlag) Set(s string) error {
	k, err := daemon.ParseKeep(s)
	if err != nil {
		return err
	}
	*f.k = k
	return nil
}

// IsBoolFlag lets --keep-dataplane stand alone (flag's convention).
func (f *keepFlag) IsBoolFlag() bool { return true }
