package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/multilink/multilink/internal/apiclient"
	"github.com/multilink/multilink/internal/statusview"
)

const statusUsage = `usage: multilink status [flags]

One screen of the daemon's state: on a gateway each bond with its active
link, last switch and its reason, and per link the engine's state, time in
it, RTT (smoothed, p50, p99 since the link was added), loss and tunnel; on
a hub each bridge with its links, tunnels and the gateway that holds it.
The local daemon by default (run as root, or as a member of the daemon's
--api-group: its state dir is root's).

flags:
`

func statusCommand() command {
	return command{name: "status", summary: "one screen: bonds, links (state, RTT, loss, last switch), bridges", usage: statusUsage, setup: statusFlags}
}

func statusFlags(fs *flag.FlagSet) action {
	var t target
	t.flags(fs)
	asJSON := fs.Bool("json", false, "print the snapshot as JSON")
	return func(args []string, stdout, _ io.Writer) error {
		if err := noArgs("status", args); err != nil {
			return err
		}
		c, err := t.client()
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		s, err := statusview.Take(ctx, c, c.URL())
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, s)
		}
		return statusview.Render(stdout, s, time.Now())
	}
}

const watchUsage = `usage: multilink watch [flags]

multilink status, live: the screen is drawn again every --every, and at
once when a switch or a state change happens (the events stream). With
--json, one snapshot per line instead. Ctrl-C ends it.

flags:
`

func watchCommand() command {
	return command{name: "watch", summary: "multilink status, live", usage: watchUsage, setup: watchFlags}
}

func watchFlags(fs *flag.FlagSet) action {
	var t target
	t.flags(fs)
	asJSON := fs.Bool("json", false, "one JSON snapshot per line")
	every := fs.Duration("every", time.Second, "how often the screen is drawn again (at least 100ms)")
	return func(args []string, stdout, stderr io.Writer) error {
		if err := noArgs("watch", args); err != nil {
			return err
		}
		if *every < 100*time.Millisecond {
			return usagef("--every %s: want at least 100ms", *every)
		}
		c, err := t.client()
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return watch(ctx, c, *every, *asJSON, stdout, stderr)
	}
}

// watch draws the snapshot every period and at each event, until ctx
// ends. With asJSON, one snapshot a line on stdout and errors on stderr.
func watch(ctx context.Context, c *apiclient.Client, every time.Duration, asJSON bool, stdout, stderr io.Writer) error {
	nudge := make(chan struct{}, 1)
	var streamErr atomic.Value // string: why the event stream is down ("" when up)
	streamErr.Store("")
	go func() {
		// The stream only says when to draw again; while it is down (a
		// daemon restarting, an older daemon) the period still does.
		for ctx.Err() == nil {
			err := c.Stream(ctx, "/v1/client/events?limit=1", func(string, []byte) error {
				streamErr.Store("")
				select {
				case nudge <- struct{}{}:
				default:
				}
				return nil
			})
			if err != nil {
				streamErr.Store(err.Error())
			}
			select {
			case <-ctx.Done():
			case <-time.After(reconnectEvery):
			}
		}
	}()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		s, err := statusview.Take(ctx, c, c.URL())
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && asJSON:
			fmt.Fprintf(stderr, "multilink: %v (trying again)\n", err)
		case err != nil:
			fmt.Fprintf(stdout, "\x1b[H\x1b[2J%s: %v (trying again)\n", time.Now().Format("15:04:05"), err)
		case asJSON:
			if err := json.NewEncoder(stdout).Encode(s); err != nil {
				return err
			}
		default:
			fmt.Fprint(stdout, "\x1b[H\x1b[2J") // home, clear
			if err := statusview.Render(stdout, s, time.Now()); err != nil {
				return err
			}
			if why := streamErr.Load().(string); why != "" {
				fmt.Fprintf(stdout, "\n(events stream down, redrawn every %s only: %s)\n", every, why)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-nudge:
		}
	}
}

// writeJSON prints v indented.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
