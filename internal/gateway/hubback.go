package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/multilink/multilink/api"
)

// Hub-back timing: after a link's hub end exited, the hub's status is
// read every hubBackPoll until it serves the link again, for at most
// hubBackWait (OpenVPN's own retries take over then).
const (
	hubBackPoll    = 100 * time.Millisecond
	hubBackWait    = 15 * time.Second // the tunnels' hand-window
	hubBackRequest = time.Second      // one status read's limit
)

// hubBack is the set of links whose hub is being watched.
type hubBack struct {
	mu       sync.Mutex
	watching map[string]bool
	wg       sync.WaitGroup
}

// peerExited starts watching tap's hub, unless it is watched already.
// A hub's OpenVPN that ends (its daemon restarted in a container, which
// ends its processes) tells this end, whose OpenVPN knocks again after a
// 1 s pause and then only at its control channel's retransmissions (2 s,
// then 4 s later): a hub back in between waits for those. The watch reads
// the hub's status and restarts the link's OpenVPN, which knocks at once,
// the moment the hub serves the link again.
func (g *Gateway) peerExited(ctx context.Context, hb *hubBack, tap string) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if hb.watching[tap] {
		return
	}
	if hb.watching == nil {
		hb.watching = map[string]bool{}
	}
	hb.watching[tap] = true
	hb.wg.Add(1)
	go func() {
		defer hb.wg.Done()
		g.watchHub(ctx, tap, time.Now(), hubBackPoll)
		hb.mu.Lock()
		delete(hb.watching, tap)
		hb.mu.Unlock()
	}()
}

// watchHub waits, reading the hub's status every poll from exited on,
// until the hub serves tap's link again after it was seen not to (the hub
// did not answer, or had the link's server not running), and then
// restarts tap's OpenVPN. The server must be seen running in two reads in
// a row: a process just started may not listen yet, and a knock it misses
// waits for a retransmission. Nothing is done when the hub was never seen
// without the link (it was back before the first read: OpenVPN's own
// knock after its pause meets it), when the link's tunnel has initiated a
// session since the exit, for a bond being rotated or re-claimed (that
// restarts its links itself), or once hubBackWait is over.
func (g *Gateway) watchHub(ctx context.Context, tap string, exited time.Time, poll time.Duration) {
	hub, bridge, port, ok := g.hubOf(tap)
	if !ok {
		return
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	gone, seen := false, 0
	for {
		rctx, cancel := context.WithTimeout(ctx, hubBackRequest)
		st, err := g.opts.Fetcher.ServerStatus(rctx, hub)
		cancel()
		if err == nil && serving(st, bridge, port) {
			seen++
		} else {
			gone, seen = true, 0
		}
		now := time.Now()
		if ts, ok := g.opts.Tunnels.Status(tap); !ok || ts.Connected.After(exited) {
			return // stopped, or back by itself
		}
		if !gone && seen > 0 {
			return // served all along
		}
		if gone && seen >= 2 {
			if _, _, _, ok := g.hubOf(tap); !ok {
				return // rotated or stopped meanwhile
			}
			if err := g.opts.Tunnels.Restart(ctx, tap); err != nil {
				g.log.Warn("the hub serves the link again, and its tunnel could not be restarted", "tap", tap, "err", err)
				return
			}
			g.log.Info("the hub serves the link again: its tunnel knocks at once", "tap", tap,
				"after_exit", now.Sub(exited).Round(time.Millisecond))
			return
		}
		if now.Sub(exited) >= hubBackWait {
			g.log.Debug("the hub did not serve the link again in time: OpenVPN retries by itself", "tap", tap, "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// hubOf is where tap's link is served: its client's hub, bridge and the
// link's port there; not ok for a TAP of no client, or of a bond being
// rotated or re-claimed.
func (g *Gateway) hubOf(tap string) (hub HubAPI, bridge string, port int, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for name, c := range g.clients {
		if g.rotating[name] {
			continue
		}
		for i, t := range c.cfg.Taps() {
			if t == tap && i < len(c.ports) {
				return c.hub, c.bridge, c.ports[i], true
			}
		}
	}
	return HubAPI{}, "", 0, false
}

// serving tells whether a hub's status has the link on port of bridge
// running ("" bridge: the hub's only one).
func serving(st api.ServerStatusResponse, bridge string, port int) bool {
	for _, s := range st.Servers {
		if bridge != "" && s.Bridge != bridge || s.Pending != "" {
			continue
		}
		for _, l := range s.Links {
			if l.Port == port && l.Running {
				return true
			}
		}
	}
	return false
}
