// Command multilink keeps a gateway connected over several wireless links.
//
//	multilink version
//	multilink daemon [--listen ADDR] [--state-dir DIR] [--token-file F] [--config FILE] [--tls-cert F --tls-key F] [--insecure-plain-http] [--insecure-no-auth]
//	multilink demo [--json] [--bond-driver auto|kernel|ebpf] [-v]
//	multilink fingerprint [--state-dir DIR | --tls-cert FILE]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/multilink/multilink/internal/daemon"
	"github.com/multilink/multilink/internal/hub"
	"github.com/multilink/multilink/internal/restapi"
	"github.com/multilink/multilink/internal/tunnel"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() { os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr)) }

// cli runs the command line and returns the exit status: 0 on success
// (help asked for included), 2 on a usage error or a failure.
func cli(args []string, stdout, stderr io.Writer) int {
	err := run(args, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case !errors.Is(err, flag.ErrHelp): // ErrHelp: the usage is printed already
		fmt.Fprintln(stderr, "multilink:", err)
	}
	return 2
}

const usage = `usage: multilink <command> [flags]

commands:
  daemon    run the multilink daemon (REST API, tunnels, bridge/bond)
  demo      the whole system on this host: hub and gateway in namespaces, a failover timeline
  fingerprint  print the pin of the API's TLS key (a gateway's server_api_pin)
  version   print the version
`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, version)
		return nil
	case "daemon":
		return runDaemon(args[1:], stdout, stderr)
	case "demo":
		return runDemo(args[1:], stdout, stderr)
	case "fingerprint":
		return runFingerprint(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

const daemonUsage = "usage: multilink daemon [flags]\n\nflags:\n"

// newFlagSet is a subcommand's flag set whose usage starts with usage.
func newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs
}

func runDaemon(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("daemon", daemonUsage)
	o := daemon.Options{Version: version, Token: os.Getenv(daemon.TokenEnv)}
	fs.StringVar(&o.Listen, "listen", daemon.DefaultListen, "API listen address")
	fs.StringVar(&o.StateDir, "state-dir", daemon.DefaultStateDir, "directory for state, keys, token and tunnel configs (0700)")
	fs.StringVar(&o.TokenFile, "token-file", "", "file holding the API token (default: $"+daemon.TokenEnv+", else <state-dir>/token, generated)")
	fs.BoolVar(&o.Insecure, "insecure-no-auth", false, "serve the API without authentication (warned at every start); ignored when $"+daemon.TokenEnv+" or --token-file gives a token")
	fs.StringVar(&o.ConfigFile, "config", "", "YAML file declaring servers/clients to start at boot")
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
	fs.DurationVar(&o.ClaimExpiry, "claim-expiry", hub.DefaultClaimExpiry, "hub: a gateway bond silent on every link of the bridge it holds this long loses its claim, and another may take the bridge")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "text", "log format: text or json")
	if help, err := parse(fs, args, stdout, stderr); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("daemon takes no arguments, got %q", fs.Args())
	}
	if o.MaxInFlight < 1 {
		return fmt.Errorf("--api-max-in-flight %d: want at least 1", o.MaxInFlight)
	}
	if o.TunnelNice < -20 || o.TunnelNice > 19 {
		return fmt.Errorf("--tunnel-nice %d: want -20 to 19", o.TunnelNice)
	}
	if o.TunnelRekey < tunnel.MinRekey {
		return fmt.Errorf("--tunnel-rekey %s: want at least %s", o.TunnelRekey, tunnel.MinRekey)
	}
	if o.ClaimExpiry < time.Minute {
		return fmt.Errorf("--claim-expiry %s: want at least 1m (a holder is looked at every 30 s)", o.ClaimExpiry)
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		return err
	}
	o.Logger = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return daemon.Run(ctx, o)
}

// parse parses args with fs. Asked for help (-h, --help), it prints the
// usage to stdout and reports help: that is no error. On a bad flag it
// prints the error and the usage to stderr and returns flag.ErrHelp (the
// usage is printed: exit 2 without more).
func parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (help bool, err error) {
	var out bytes.Buffer
	fs.SetOutput(&out)
	defer fs.SetOutput(stderr)
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		_, err = io.Copy(stdout, &out)
		return true, err
	case err != nil:
		_, _ = io.Copy(stderr, &out)
		return false, flag.ErrHelp
	}
	return false, nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
