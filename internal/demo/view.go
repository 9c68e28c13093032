package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// linkView is what the live view reads of /v1/client/links.
type linkView struct {
	Link string `json:"link"`
	RTT  struct {
		Smoothed *float64 `json:"smoothed_ms"`
	} `json:"rtt"`
	Loss float64 `json:"loss"`
}

// policyView is what it reads of /v1/client/policy/bond0.
type policyView struct {
	Active string `json:"active_link"`
	Links  []struct {
		Link   string `json:"link"`
		State  string `json:"state"`
		Reason string `json:"reason"`
	} `json:"links"`
}

// eventView is one failover event.
type eventView struct {
	At          time.Time `json:"at"`
	Kind        string    `json:"kind"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	Reason      string    `json:"reason"`
	Link        string    `json:"link"`
	State       string    `json:"state"`
	Detail      string    `json:"detail"`
	DetectionMs float64   `json:"detection_ms"`
}

// view prints the gateway's state once a second and every event as it
// comes, until ctx ends.
type view struct {
	out   io.Writer
	gw    *Daemon
	start time.Time
	last  time.Time // the newest event printed
}

func (v *view) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		v.print(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (v *view) print(ctx context.Context) {
	var links []linkView
	var pol policyView
	var events []eventView
	if _, err := v.gw.Call(ctx, http.MethodGet, "/v1/client/links", nil, &links); err != nil {
		return
	}
	if _, err := v.gw.Call(ctx, http.MethodGet, "/v1/client/policy/bond0", nil, &pol); err != nil {
		return
	}
	if _, err := v.gw.Call(ctx, http.MethodGet, "/v1/client/events?bond=bond0&limit=512", nil, &events); err != nil {
		return
	}
	// By time, not by index: the daemon keeps only the newest events.
	for _, e := range events {
		if e.At.After(v.last) {
			fmt.Fprintf(v.out, "[%6.1fs]   %s\n", e.At.Sub(v.start).Seconds(), describe(e))
			v.last = e.At
		}
	}
	state := map[string]string{}
	for _, l := range pol.Links {
		state[l.Link] = l.State
	}
	var parts []string
	for _, l := range links {
		rtt := "    -   "
		if l.RTT.Smoothed != nil {
			rtt = fmt.Sprintf("%6.1f ms", *l.RTT.Smoothed)
		}
		parts = append(parts, fmt.Sprintf("%s %-8s rtt %s loss %3.0f%%", l.Link, state[l.Link], rtt, l.Loss*100))
	}
	fmt.Fprintf(v.out, "[%6.1fs] active %-4s | %s\n", time.Since(v.start).Seconds(), pol.Active, strings.Join(parts, " | "))
}

func describe(e eventView) string {
	if e.Kind == "switch" {
		return fmt.Sprintf(">> switch %s -> %s (%s; detected in %.0f ms): %s", e.From, e.To, e.Reason, e.DetectionMs, e.Detail)
	}
	return fmt.Sprintf("   %s is %s: %s", e.Link, e.State, e.Detail)
}
