// Command multilink keeps a gateway connected over several wireless links.
//
//	multilink version
//	multilink daemon [--listen ADDR] [--state-dir DIR] [--token-file F] [--config FILE] [--insecure-no-auth]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/multilink/multilink/daemon"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "multilink:", err)
		}
		os.Exit(2)
	}
}

const usage = `usage: multilink <command> [flags]

commands:
  daemon    run the multilink daemon (REST API, tunnels, bridge/bond)
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
		return runDaemon(args[1:], stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func runDaemon(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := daemon.Options{Version: version, Token: os.Getenv(daemon.TokenEnv)}
	fs.StringVar(&o.Listen, "listen", daemon.DefaultListen, "API listen address")
	fs.StringVar(&o.StateDir, "state-dir", daemon.DefaultStateDir, "directory for state, keys, token and tunnel configs (0700)")
	fs.StringVar(&o.TokenFile, "token-file", "", "file holding the API token (default: $"+daemon.TokenEnv+", else <state-dir>/token, generated)")
	fs.BoolVar(&o.Insecure, "insecure-no-auth", false, "serve the API without authentication (warned at every start); ignored when $"+daemon.TokenEnv+" or --token-file gives a token")
	fs.StringVar(&o.ConfigFile, "config", "", "YAML file declaring servers/clients to start at boot")
	fs.StringVar(&o.OpenVPN, "openvpn", "", "openvpn binary (default: from PATH)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "text", "log format: text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("daemon takes no arguments, got %q", fs.Args())
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
