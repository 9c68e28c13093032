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

// runDemo is `multilink demo`: exit status 0 only if every step of the
// timeline ended on the expected link.
func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the summary as JSON on stdout (the live view goes to stderr)")
	driver := fs.String("bond-driver", "auto", "the gateway's bond: auto, kernel or ebpf")
	verbose := fs.Bool("v", false, "log the demo's own steps (link emulation) to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo takes no arguments, got %q", fs.Args())
	}
	if os.Geteuid() != 0 {
		return errors.New("demo: run as root (it makes network namespaces, TAPs and eBPF programs)")
	}
	live := stdout
	if *asJSON {
		live = stderr
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := demo.Run(ctx, demo.Options{Driver: *driver, Out: live, Logger: log})
	if *asJSON {
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
