package gateway

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/tunnel"
)

// Re-claim timing: a bond with no link up this long asks its hub again,
// then waits twice as long each time, up to reclaimMax.
const (
	reclaimAfter = 10 * time.Second
	reclaimMax   = 5 * time.Minute
	reclaimEvery = 2 * time.Second
)

// reclaim is the re-claim state of one bond.
type reclaim struct {
	downSince time.Time // when no link was up any more (zero: one is up)
	next      time.Time // the earliest next attempt
	wait      time.Duration
}

// Reclaim watches the bonds until ctx ends: a bond none of whose links
// has been up for 10 s claims its hub's bridge again, and takes what the
// answer says its links need: the hub's certificates (a hub whose
// identity was renewed, or a link's), the links' keys (a server started
// again made new ones), and the pin of its own certificates (a hub that
// lost its claims pins nobody's). Attempts back off to one every 5
// minutes while the links stay down (the hub may simply be unreachable).
// A single link down for 5 s gets a new session first (reviveDue). A link
// whose hub end exited gets one as soon as the hub serves it again
// (peerExited).
func (g *Gateway) Reclaim(ctx context.Context) {
	t := time.NewTicker(reclaimEvery)
	defer t.Stop()
	state := map[string]*reclaim{}
	revived := map[string]*revive{}
	var hb hubBack
	defer hb.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case tap := <-g.opts.PeerExits:
			g.peerExited(ctx, &hb, tap)
			continue
		case <-t.C:
		}
		now := time.Now()
		g.reviveDue(revived, now)
		g.reclaimDue(ctx, state, now)
	}
}

// reclaimDue re-claims for the bonds whose links have been down long
// enough, as of now.
func (g *Gateway) reclaimDue(ctx context.Context, state map[string]*reclaim, now time.Time) {
	g.mu.Lock()
	clients := make(map[string]*client, len(g.clients))
	for name, c := range g.clients {
		clients[name] = c
	}
	g.mu.Unlock()
	for name := range state {
		if clients[name] == nil {
			delete(state, name)
		}
	}
	for name, c := range clients {
		r := state[name]
		if r == nil {
			r = &reclaim{wait: reclaimAfter}
			state[name] = r
		}
		if g.anyLinkUp(name) {
			*r = reclaim{wait: reclaimAfter}
			continue
		}
		if r.downSince.IsZero() {
			r.downSince, r.next = now, now.Add(reclaimAfter)
		}
		if now.Before(r.next) {
			continue
		}
		r.next, r.wait = now.Add(r.wait), min(2*r.wait, reclaimMax)
		if err := g.claimAgain(ctx, c); err != nil {
			g.log.Warn("no link of the bond is up, and claiming its hub's bridge again failed", "bond", name,
				"down_for", now.Sub(r.downSince).Round(time.Second), "next_in", r.next.Sub(now), "err", err)
		}
	}
}

// anyLinkUp tells whether the failover engine has one of bond's links up
// (without an engine: assumed so, there is nothing to judge by).
func (g *Gateway) anyLinkUp(bond string) bool {
	if g.steer == nil {
		return true
	}
	st, ok := g.steer.failover(bond)
	if !ok {
		return true
	}
	for _, l := range st.Links {
		if l.State == api.LinkUp {
			return true
		}
	}
	return false
}

// claimAgain claims c's bridge again, as its start did, and restarts the
// links whose secrets the answer changes.
func (g *Gateway) claimAgain(ctx context.Context, c *client) error {
	name := c.cfg.Bond
	g.mu.Lock()
	if g.rotating[name] || g.clients[name] != c {
		g.mu.Unlock()
		return nil // being rotated or stopped: not now
	}
	g.rotating[name] = true
	g.mu.Unlock()
	defer g.renewed(name)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	key, err := g.opts.Fetcher.FetchKey(ctx, c.hub)
	if err != nil {
		return err
	}
	if key.TunnelMode == "" {
		key.TunnelMode = api.TunnelStatic
	}
	if key.TunnelMode != c.mode || len(key.Links) < len(c.links) {
		return errkind.Conflict("the hub's bridge %s now runs tunnel mode %s with %d links (the bond runs %s with %d): stop and start the client",
			key.Bridge, key.TunnelMode, len(key.Links), c.mode, len(c.links))
	}
	// What each link runs now, before a shared key file is rewritten.
	ran := make([]string, len(c.links))
	for i := range c.links {
		if c.mode != api.TunnelTLS {
			data, _ := os.ReadFile(g.spec(c, i).KeyFile)
			ran[i] = string(data)
		}
	}
	changed := 0
	for i, tap := range c.cfg.Taps() {
		if key.Links[i].Port != c.ports[i] {
			return errkind.Conflict("the hub's bridge %s now serves %s on port %d (the bond uses %d): stop and start the client", key.Bridge, tap, key.Links[i].Port, c.ports[i])
		}
		renewed, err := g.takeSecret(c, i, key, ran[i])
		if err != nil {
			return err
		}
		if !renewed {
			continue
		}
		if err := g.opts.Tunnels.Reconfigure(ctx, g.spec(c, i)); err != nil {
			return fmt.Errorf("restart %s with the hub's new secret: %w", tap, err)
		}
		changed++
	}
	g.log.Info("claimed the hub's bridge again: no link was up", "bond", name, "bridge", key.Bridge, "links_restarted", changed)
	return nil
}

// takeSecret gives c's link i what key says it needs now (ran: the
// static key it runs); renewed tells whether that changed.
func (g *Gateway) takeSecret(c *client, i int, key api.Key, ran string) (renewed bool, err error) {
	if c.mode == api.TunnelTLS {
		peer := key.Fingerprint
		if key.Links[i].Fingerprint != "" {
			peer = key.Links[i].Fingerprint
		}
		if peer == c.links[i].peer {
			return false, nil
		}
		c.links[i].peer = peer
		return true, nil
	}
	text, file := key.Key, c.keyFile
	if key.Links[i].Key != "" {
		text, file = key.Links[i].Key, g.linkKeyFile(c.cfg.Taps()[i])
	}
	if ran == text && file == g.spec(c, i).KeyFile {
		return false, nil
	}
	if err := tunnel.WriteKey(file, []byte(text)); err != nil {
		return false, fmt.Errorf("write the hub's new key of %s: %w", c.cfg.Taps()[i], err)
	}
	c.links[i].keyFile = ""
	if file != c.keyFile {
		c.links[i].keyFile = file
	}
	return true, nil
}
