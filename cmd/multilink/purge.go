package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/multilink/multilink/internal/daemon"
)

const purgeUsage = `usage: multilink purge [--state-dir DIR] [--wait DURATION]

Removes the data plane a daemon of the state dir left running
(multilink daemon --keep-dataplane) or a crash left: its openvpn
processes, eBPF pins, bridges, bonds, TAPs and policy routing. The desired
state, keys, identity and token stay, as after a daemon's exit without
--keep-dataplane. Refused while a daemon uses the state dir (--wait: give
it that long to exit first).

flags:
`

func purgeCommand() command {
	return command{name: "purge", summary: "remove the data plane a stopped daemon left running (--keep-dataplane)", usage: purgeUsage, setup: purgeFlags}
}

func purgeFlags(fs *flag.FlagSet) action {
	o := daemon.PurgeOptions{}
	fs.StringVar(&o.StateDir, "state-dir", daemon.DefaultStateDir, "the daemon's state directory")
	fs.StringVar(&o.BPFFS, "bpffs", daemon.DefaultBPFFS, "the bpf file system the daemon pinned in (its --bpffs)")
	fs.DurationVar(&o.Wait, "wait", 0, "wait this long for a daemon that holds the state dir to exit (e.g. 60s)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	return func(args []string, _, stderr io.Writer) error {
		if err := noArgs("purge", args); err != nil {
			return err
		}
		if o.Wait < 0 {
			return usagef("--wait %s: want 0 or more", o.Wait)
		}
		log, err := newLogger(stderr, *level, "text")
		if err != nil {
			return err
		}
		o.Logger = log
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return daemon.Purge(ctx, o)
	}
}
