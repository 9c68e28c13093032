package statusview

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/multilink/multilink/api"
)

// Getter reads the API's answers (apiclient.Client does).
type Getter interface {
	Get(ctx context.Context, path string, out any) error
	// Health is /health's report, also a "down" one (a 503).
	Health(ctx context.Context) (api.HealthReport, error)
}

// Snapshot is a daemon's state at one moment.
type Snapshot struct {
	URL     string           `json:"url"`
	Taken   time.Time        `json:"taken_at"`
	Health  api.HealthReport `json:"health"`
	Bonds   []Bond           `json:"bonds"`   // gateway role
	Bridges []Bridge         `json:"bridges"` // hub role
}

// Bond is one gateway bond: its status, each link as the engine judges
// and the probe measures it, and its latest switch.
type Bond struct {
	api.ClientStatus
	Failover   *api.PolicyStatus `json:"failover,omitempty"` // nil while the bond is not started
	Links      []Link            `json:"link_view"`
	LastSwitch *api.Event        `json:"last_switch,omitempty"`
}

// Link is one link of a bond, merged from the three answers.
type Link struct {
	Link     string        `json:"link"`
	Active   bool          `json:"active"`
	State    api.LinkState `json:"state"`
	Reason   string        `json:"reason,omitempty"`
	Since    time.Time     `json:"since,omitzero"`
	Tunnel   string        `json:"tunnel"` // running, down, stopped
	RTTMs    *float64      `json:"rtt_ms"` // smoothed
	P50Ms    *float64      `json:"rtt_p50_ms"`
	P99Ms    *float64      `json:"rtt_p99_ms"`
	Loss     float64       `json:"loss"`
	Restarts int           `json:"tunnel_restarts"`
}

// Bridge is one hub bridge.
type Bridge struct {
	api.ServerStatus
}

// Take reads the daemon's state: /health, the client and server status,
// the probe's links, each bond's failover state and its events.
func Take(ctx context.Context, g Getter, base string) (Snapshot, error) {
	s := Snapshot{URL: base, Taken: time.Now()}
	h, err := g.Health(ctx)
	if err != nil {
		return s, fmt.Errorf("read health: %w", err)
	}
	s.Health = h
	var cs api.ClientStatusResponse
	if err := g.Get(ctx, "/v1/client/status", &cs); err != nil {
		return s, fmt.Errorf("read the gateway's bonds: %w", err)
	}
	var ss api.ServerStatusResponse
	if err := g.Get(ctx, "/v1/server/status", &ss); err != nil {
		return s, fmt.Errorf("read the hub's bridges: %w", err)
	}
	clients := cs.Clients
	for _, b := range ss.Servers {
		s.Bridges = append(s.Bridges, Bridge{b})
	}
	if len(clients) == 0 {
		return s, nil
	}
	var stats []api.LinkStats
	if err := g.Get(ctx, "/v1/client/links", &stats); err != nil {
		return s, fmt.Errorf("read the links' figures: %w", err)
	}
	for _, c := range clients {
		b := Bond{ClientStatus: c}
		if c.Pending == "" {
			var p api.PolicyStatus
			if err := g.Get(ctx, "/v1/client/policy/"+url.PathEscape(c.Bond), &p); err == nil {
				b.Failover = &p
			}
			var ev []api.Event
			q := url.Values{"bond": {c.Bond}, "limit": {fmt.Sprint(api.MaxEvents)}}
			if err := g.Get(ctx, "/v1/client/events?"+q.Encode(), &ev); err != nil {
				return s, fmt.Errorf("read %s's events: %w", c.Bond, err)
			}
			b.LastSwitch = lastSwitch(ev)
		}
		b.Links = merge(c, b.Failover, stats)
		s.Bonds = append(s.Bonds, b)
	}
	return s, nil
}

// lastSwitch is the latest switch among ev (oldest first), or nil.
func lastSwitch(ev []api.Event) *api.Event {
	for i := len(ev) - 1; i >= 0; i-- {
		if ev[i].Kind == api.EventSwitch {
			e := ev[i]
			return &e
		}
	}
	return nil
}

// merge joins a bond's tunnels, the engine's verdicts and the probe's
// figures by link name, in the bond's order.
func merge(c api.ClientStatus, f *api.PolicyStatus, stats []api.LinkStats) []Link {
	var out []Link
	for _, cl := range c.Links {
		l := Link{Link: cl.Tap, State: api.LinkUnknown, Restarts: cl.Restarts, Tunnel: tunnelState(cl)}
		if f != nil {
			l.Active = f.Active == cl.Tap
			for _, fl := range f.Links {
				if fl.Link == cl.Tap {
					l.State, l.Reason, l.Since = fl.State, fl.Reason, fl.Since
				}
			}
		} else {
			l.Active = c.Active == cl.Tap
		}
		for _, st := range stats {
			if st.Bond == c.Bond && st.Link == cl.Tap {
				l.RTTMs, l.Loss = st.RTT.Smoothed, st.Loss
				l.P50Ms, l.P99Ms = Quantile(st.Histogram, 0.5), Quantile(st.Histogram, 0.99)
			}
		}
		out = append(out, l)
	}
	return out
}

func tunnelState(l api.ClientLink) string {
	switch {
	case !l.Running:
		return "stopped"
	case !l.Up:
		return "down"
	}
	return "running"
}
