package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/apiclient"
	"github.com/multilink/multilink/internal/statusview"
)

const eventsUsage = `usage: multilink events [flags]

The gateway's switches and link state changes, oldest first: when, which
bond, from which link to which and why (with the time to detect and to
move), or which link went to which state and why. -f follows them as they
happen (the events endpoint's server-sent-event stream) until Ctrl-C,
through a restart of the daemon.

flags:
`

// reconnectEvery is how often -f tries again after the daemon went away.
const reconnectEvery = 2 * time.Second

func eventsCommand() command {
	return command{name: "events", summary: "switches and state changes; -f follows them live", usage: eventsUsage, setup: eventsFlags}
}

func eventsFlags(fs *flag.FlagSet) action {
	var t target
	t.flags(fs)
	follow := fs.Bool("f", false, "follow: print each new event as it happens")
	asJSON := fs.Bool("json", false, "JSON: the list, or with -f one event per line")
	bond := fs.String("bond", "", "only this bond's events")
	limit := fs.Int("limit", 100, fmt.Sprintf("at most this many of the latest kept events (1 to %d)", api.MaxEvents))
	return func(args []string, stdout, stderr io.Writer) error {
		if err := noArgs("events", args); err != nil {
			return err
		}
		if *limit < 1 || *limit > api.MaxEvents {
			return usagef("--limit %d: want 1 to %d", *limit, api.MaxEvents)
		}
		if *bond != "" {
			if err := api.CheckIfName("--bond", *bond); err != nil {
				return usageError{err}
			}
		}
		c, err := t.client()
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		q := url.Values{"limit": {strconv.Itoa(*limit)}}
		if *bond != "" {
			q.Set("bond", *bond)
		}
		path := "/v1/client/events?" + q.Encode()
		if *follow {
			return followEvents(ctx, c, path, *asJSON, stdout, stderr)
		}
		var list []api.Event
		if err := c.Get(ctx, path, &list); err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, list)
		}
		for _, e := range list {
			fmt.Fprintln(stdout, statusview.EventLine(e))
		}
		return nil
	}
}

// outputError is a failure to print: no reason to connect again.
type outputError struct{ error }

// followEvents prints the stream's events until ctx ends, connecting
// again when the daemon goes away; an event seen before a reconnection is
// not printed twice.
func followEvents(ctx context.Context, c *apiclient.Client, path string, asJSON bool, stdout, stderr io.Writer) error {
	var last time.Time          // the newest event printed
	atLast := map[string]bool{} // the events printed with that time (a switch and its state change share it)
	enc := json.NewEncoder(stdout)
	print := func(name string, data []byte) error {
		if name == "missed" {
			fmt.Fprintln(stderr, "multilink: this command fell behind and the daemon dropped some events for it; multilink events lists what it keeps")
			return nil
		}
		var e api.Event
		if err := json.Unmarshal(data, &e); err != nil || e.Kind == "" {
			return nil // anything newer than this command
		}
		key := string(data)
		switch {
		case e.At.Before(last), e.At.Equal(last) && atLast[key]:
			return nil // printed before the daemon was reached again
		case e.At.After(last):
			last, atLast = e.At, map[string]bool{}
		}
		atLast[key] = true
		var err error
		if asJSON {
			err = enc.Encode(e)
		} else {
			_, err = fmt.Fprintln(stdout, statusview.EventLine(e))
		}
		if err != nil {
			return outputError{err}
		}
		return nil
	}
	first, said := true, ""
	for {
		err := c.Stream(ctx, path, print)
		if ctx.Err() != nil {
			return nil
		}
		var refused *apiclient.Error
		var output outputError
		switch {
		case errors.As(err, &output):
			return output.error // stdout is gone: nothing to follow for
		case errors.As(err, &refused) && (first || refused.Status < 500 && refused.Status != http.StatusTooManyRequests):
			return err // a bad bond, a token refused: no use trying again
		}
		first = false
		if err.Error() != said { // once per outage, not at every try
			said = err.Error()
			fmt.Fprintf(stderr, "multilink: %v; connecting again every %s\n", err, reconnectEvery)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(reconnectEvery):
		}
	}
}
