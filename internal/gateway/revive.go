package gateway

import (
	"time"

	"github.com/multilink/multilink/api"
)

// Revive timing: a link that has had no probe reply for this long (and,
// unless the engine has it down or degraded, for reviveProbes of its
// probe intervals), whose tunnel has run as long, gets a new session;
// then again after twice as long each time, up to reviveMax, while it
// stays silent.
const (
	reviveAfter  = 5 * time.Second
	reviveProbes = 3
	reviveMax    = 2 * time.Minute
)

// revive is the revive state of one link.
type revive struct {
	next time.Time // the earliest next new session
	wait time.Duration
}

// reviveDue asks, as of now, for a new session on every link of a bond
// (not being rotated or re-claimed) that has been silent for reviveAfter
// while its tunnel ran, and that the engine has down or degraded or that
// has been silent for three of its probe intervals (a standby is probed
// every 5 s: 15 s). A hub's OpenVPN that was killed
// and started again knows nothing of the old session and drops its
// packets; this end would otherwise go on sending into it until its
// ping-restart (a minute). A link down for another reason (its radio is
// gone) loses nothing by the new session: its OpenVPN retries anyway.
func (g *Gateway) reviveDue(state map[string]*revive, now time.Time) {
	if g.steer == nil {
		return
	}
	g.mu.Lock()
	var bonds []string
	for name := range g.clients {
		if !g.rotating[name] {
			bonds = append(bonds, name)
		}
	}
	g.mu.Unlock()
	seen := map[string]bool{}
	for _, bond := range bonds {
		st, ok := g.steer.failover(bond)
		if !ok {
			continue
		}
		for _, l := range st.Links {
			seen[l.Link] = true
			silent, iv, heard := g.steer.silence(l.Link)
			judged := l.State == api.LinkDown || l.State == api.LinkDegraded
			if !heard || silent < reviveAfter || !judged && silent < reviveProbes*iv {
				delete(state, l.Link)
				continue
			}
			r := state[l.Link]
			if r == nil {
				r = &revive{next: now, wait: 2 * reviveAfter}
				state[l.Link] = r
			}
			ts, ok := g.opts.Tunnels.Status(l.Link)
			if now.Before(r.next) || !ok || !ts.Running || now.Sub(ts.Since) < reviveAfter {
				continue // not yet, or its process is new: so is its session
			}
			r.next, r.wait = now.Add(r.wait), min(2*r.wait, reviveMax)
			if err := g.opts.Tunnels.NewSession(l.Link); err != nil {
				g.log.Warn("a link is down and its tunnel could not start a new session", "bond", bond, "tap", l.Link, "err", err)
				continue
			}
			g.log.Info("a link is silent: its tunnel starts a new session", "bond", bond, "tap", l.Link, "state", l.State,
				"silent_for", silent.Round(time.Millisecond), "next_try_in", r.next.Sub(now))
		}
	}
	for l := range state {
		if !seen[l] {
			delete(state, l)
		}
	}
}
