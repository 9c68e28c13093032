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

	"github.com/multilink/multilink/internal/demo"
)

const demoUsage = `usage: multilink demo [flags]

The whole system on this host, as root: a hub and a gateway in network
namespaces, real OpenVPN tunnels, and a failover timeline played on their
links with a live view. Exit status 0 only if every step of the timeline
ended on the expected link; everything it made is removed.

flags:
`

func demoCommand() command {
	return command{name: "demo", summary: "the whole system on this host: hub and gateway in namespaces, a failover timeline", usage: demoUsage, setup: demoFlags}
}

func demoFlags(fs *flag.FlagSet) action {
	asJSON := fs.Bool("json", false, "print the summary as JSON on stdout (the live view goes to stderr)")
	driver := fs.String("bond-driver", "auto", "the gateway's bond: auto, kernel or ebpf")
	verbose := fs.Bool("v", false, "log the demo's own steps (link emulation) to stderr")
	return func(args []string, stdout, stderr io.Writer) error {
		if err := noArgs("demo", args); err != nil {
			return err
		}
		return runDemo(*asJSON, *driver, *verbose, stdout, stderr)
	}
}

// runDemo is `multilink demo`.
func runDemo(asJSON bool, driver string, verbose bool, stdout, stderr io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("demo: run as root (it makes network namespaces, TAPs and eBPF programs)")
	}
	live := stdout
	if asJSON {
		live = stderr
	}
	log := slog.New(slog.DiscardHandler)
	if verbose {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := demo.Run(ctx, demo.Options{Driver: driver, Out: live, Logger: log})
	if asJSON {
		if jerr := sum.WriteJSON(stdout); jerr != nil && err == nil {
			err = jerr
		}
	} else {
		sum.WriteText(stdout)
	}
	if err != nil {
		return fmt.Errorf("demo: %w (everything it made is removed)", err)
	}
	if !sum.OK {
		return errors.New("demo: some steps did not end on the expected link")
	}
	return nil
}
