package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/tunnel"
)

// Bounds of a rotation's waits.
const (
	// rotateSwitchWait bounds the move of traffic off the active link.
	rotateSwitchWait = 5 * time.Second
	// rotateUpWait bounds a renewed link's return: a new session, then the
	// failover engine's hold-down.
	rotateUpWait = 60 * time.Second
	// rotatePatience is how long the bond's own monitor waits for a
	// reply during a rotation before it drops a link (the engine, which
	// leaves a dead link within its dead time, is not slowed).
	rotatePatience = 2 * time.Second
	rotatePoll     = 20 * time.Millisecond
)

// steering is what a rotation needs of the failover engine; the data
// plane has it.
type steering interface {
	// failover is bond's failover state; ok is false without an engine.
	failover(bond string) (st api.FailoverStatus, ok bool)
	// pin keeps bond's traffic on link ("": the engine decides again).
	pin(bond, link string) error
	// proven says whether link has answered the probe since, and every
	// probe in its loss window (provenProbes at least) was answered.
	proven(link string, since time.Time) bool
	// silence is how long link has had no probe reply, and its probe
	// interval; ok is false before its first reply.
	silence(link string) (silent, interval time.Duration, ok bool)
	// probeFast probes link at the active link's rate (or, false, at the
	// rate the engine wants).
	probeFast(bond, link string, fast bool)
	// steady makes bond's own link monitor (the kernel bond's ARP
	// monitor) patient until release: while one link restarts, it must
	// not drop the one that carries the traffic for a late reply.
	steady(bond string, patience time.Duration) (release func())
}

// Rotate renews the secrets of bond name's links with its hub, one link
// at a time: the standby links first, then traffic moves to a renewed
// link and the link that was active is renewed last; the operator's pin
// (none: the engine's choice) is restored at the end. In TLS mode each
// link gets a new certificate at both ends, in static mode a new key.
// Only the link being renewed restarts. A link that fails stops the
// rotation: the links renewed before it keep their new secrets.
func (g *Gateway) Rotate(ctx context.Context, name string) (api.Rotation, error) {
	g.mu.Lock()
	c, ok := g.clients[name]
	switch {
	case !ok && g.busy[name] != nil:
		g.mu.Unlock()
		return api.Rotation{}, errkind.Conflict("client %s is being %s; try again once that has answered", name, g.busy[name].doing)
	case !ok:
		g.mu.Unlock()
		return api.Rotation{}, errkind.NotFound("no client with bond %s is started", name)
	case g.rotating[name]:
		g.mu.Unlock()
		return api.Rotation{}, errkind.Conflict("the links of bond %s are being rotated already", name)
	}
	g.rotating[name] = true
	g.mu.Unlock()
	defer g.renewed(name)
	if c.mode == api.TunnelTLS && g.opts.LinkIdentityDir == "" {
		return api.Rotation{}, errkind.Unsupported(nil, "this gateway keeps no link certificates")
	}
	out := api.Rotation{Bond: name, TunnelMode: c.mode}
	order, prevPin := g.rotationOrder(c)
	defer g.restorePin(c, prevPin)
	if g.steer != nil {
		defer g.steer.steady(name, rotatePatience)()
	}
	var renewed []string
	for _, i := range order {
		tap := c.cfg.Taps()[i]
		rl := api.RotatedLink{Tap: tap, At: time.Now()}
		to, err := g.moveOff(ctx, c, tap, renewed)
		if err != nil {
			return out, g.rotationError(name, renewed, err)
		}
		rl.SwitchedTo = to
		began := time.Now()
		if err := g.rotateLink(ctx, c, i, &rl); err != nil {
			return out, g.rotationError(name, renewed, err)
		}
		renewed = append(renewed, tap)
		if err := g.waitUp(ctx, c, tap, time.Now()); err != nil {
			out.Links = append(out.Links, rl)
			return out, g.rotationError(name, renewed, err)
		}
		rl.TookMs = float64(time.Since(began)) / float64(time.Millisecond)
		out.Links = append(out.Links, rl)
		g.log.Info("link renewed", "bond", name, "tap", tap, "switched_to", to, "took", time.Since(began).Round(time.Millisecond))
	}
	return out, nil
}

// renewed ends what a rotation or a re-claim of bond name's links began
// by setting g.rotating.
func (g *Gateway) renewed(name string) {
	g.mu.Lock()
	delete(g.rotating, name)
	g.mu.Unlock()
}

// rotationError says which links were renewed before err.
func (g *Gateway) rotationError(bond string, renewed []string, err error) error {
	if len(renewed) == 0 {
		return fmt.Errorf("rotate the links of %s: %w; no link was changed", bond, err)
	}
	return fmt.Errorf("rotate the links of %s: %w; renewed before that: %v", bond, err, renewed)
}

// rotationOrder is the order c's links are renewed in: the active one
// last (slave order without an engine), with the pin in force.
func (g *Gateway) rotationOrder(c *client) (order []int, pin string) {
	active := ""
	if g.steer != nil {
		if st, ok := g.steer.failover(c.cfg.Bond); ok {
			active, pin = st.Active, st.Pin
		}
	}
	last := -1
	for i, tap := range c.cfg.Taps() {
		if tap == active {
			last = i
			continue
		}
		order = append(order, i)
	}
	if last >= 0 {
		order = append(order, last)
	}
	return order, pin
}

// moveOff moves c's traffic off tap if it is the active link: to a link
// renewed already and up, or else to another link that is up. It
// returns the link traffic went to ("": it was not active, or no other
// link is up: tap is renewed in place).
func (g *Gateway) moveOff(ctx context.Context, c *client, tap string, renewed []string) (string, error) {
	if g.steer == nil {
		return "", nil
	}
	st, ok := g.steer.failover(c.cfg.Bond)
	if !ok || st.Active != tap {
		return "", nil
	}
	to := ""
	for _, l := range st.Links {
		if l.Link == tap || l.State != api.LinkUp {
			continue
		}
		if slices.Contains(renewed, l.Link) {
			to = l.Link
			break
		}
		if to == "" {
			to = l.Link
		}
	}
	if to == "" {
		g.log.Warn("no other link is up: the active link is renewed in place, and its traffic waits for it", "bond", c.cfg.Bond, "tap", tap)
		return "", nil
	}
	if err := g.steer.pin(c.cfg.Bond, to); err != nil {
		return "", fmt.Errorf("move traffic to %s: %w", to, err)
	}
	err := poll(ctx, rotateSwitchWait, func() bool {
		st, ok := g.steer.failover(c.cfg.Bond)
		return ok && st.Active == to
	})
	if err != nil {
		return "", fmt.Errorf("move traffic to %s: not done within %s", to, rotateSwitchWait)
	}
	return to, nil
}

// restorePin gives c's engine back the pin it had before the rotation.
func (g *Gateway) restorePin(c *client, pin string) {
	if g.steer == nil {
		return
	}
	if st, ok := g.steer.failover(c.cfg.Bond); ok && st.Pin != pin {
		if err := g.steer.pin(c.cfg.Bond, pin); err != nil {
			g.log.Warn("the pin in force before the rotation could not be restored", "bond", c.cfg.Bond, "pin", pin, "err", err)
		}
	}
}

// rotateLink renews link i's secrets at the hub, then at this end.
func (g *Gateway) rotateLink(ctx context.Context, c *client, i int, rl *api.RotatedLink) error {
	tap := c.cfg.Taps()[i]
	r := api.RotateRequest{GatewayID: c.hub.GatewayID, Bond: c.cfg.Bond, Link: i + 1}
	if c.mode != api.TunnelTLS {
		kl, err := g.opts.Fetcher.Rotate(ctx, c.hub, c.bridge, r)
		if err != nil {
			return fmt.Errorf("renew %s at the hub: %w", tap, err)
		}
		f := g.linkKeyFile(tap)
		if err := tunnel.WriteKey(f, []byte(kl.Key)); err != nil {
			return fmt.Errorf("renew %s: the hub's end has its new key, this end could not write it: %w", tap, err)
		}
		c.links[i].keyFile = f
		return g.follow(ctx, c, i)
	}
	id, renewal, err := tunnel.RenewLinkIdentity(g.opts.LinkIdentityDir, tap)
	if err != nil {
		return err
	}
	r.Fingerprint = id.Fingerprint
	kl, err := g.opts.Fetcher.Rotate(ctx, c.hub, c.bridge, r)
	if err != nil {
		return errors.Join(fmt.Errorf("renew %s at the hub: %w", tap, err), renewal.Undo())
	}
	// The hub's end accepts only the new certificate now: this end
	// keeps it whatever happens next.
	if err := renewal.Commit(); err != nil {
		g.log.Warn("the replaced certificate of a link could not be deleted", "tap", tap, "err", err)
	}
	c.links[i].id, c.links[i].peer = id, kl.Fingerprint
	c.hub.LinkFingerprints = g.linkFingerprints(c)
	rl.Fingerprint, rl.PeerFingerprint = id.Fingerprint, kl.Fingerprint
	return g.follow(ctx, c, i)
}

// follow restarts this end of c's link i with what it has now.
func (g *Gateway) follow(ctx context.Context, c *client, i int) error {
	if err := g.opts.Tunnels.Reconfigure(ctx, g.spec(c, i)); err != nil {
		return fmt.Errorf("renew %s: the hub's end is renewed, this end could not restart: %w", c.cfg.Taps()[i], err)
	}
	return nil
}

// linkFingerprints lists the certificates c's links have of their own,
// for its next claim.
func (g *Gateway) linkFingerprints(c *client) []string {
	ids := make([]tunnel.Identity, len(c.links))
	for i, l := range c.links {
		ids[i] = l.id
	}
	return fingerprints(ids)
}

// provenProbes is the fewest answered probes (half a second at the
// default active rate), with none lost in the loss window, that prove a
// renewed link before traffic moves to it: the probes lost while it
// restarted have left the window then, and the engine's verdict is on the
// new session. (In the lab, a rotation that moved traffic to a link the
// engine judged degraded by that loss a moment later lost echoes.)
const provenProbes = 25

// waitUp waits until tap, restarted at since, works again: the probe
// has had replies through it since, with no loss in its loss window,
// probing it at the active link's rate meanwhile, and the
// failover engine has it up (a link it saw go down comes back after its
// hold-down). Without an engine: until its tunnel runs.
func (g *Gateway) waitUp(ctx context.Context, c *client, tap string, since time.Time) error {
	if g.steer != nil {
		g.steer.probeFast(c.cfg.Bond, tap, true)
		defer g.steer.probeFast(c.cfg.Bond, tap, false)
	}
	err := poll(ctx, rotateUpWait, func() bool {
		if g.steer != nil {
			if st, ok := g.steer.failover(c.cfg.Bond); ok {
				if !g.steer.proven(tap, since) {
					return false
				}
				for _, l := range st.Links {
					if l.Link == tap {
						return l.State == api.LinkUp
					}
				}
				return false
			}
		}
		ts, ok := g.opts.Tunnels.Status(tap)
		return ok && ts.Running
	})
	if err != nil {
		return fmt.Errorf("%s is renewed but not up again after %s: %w", tap, rotateUpWait, err)
	}
	return nil
}

// poll calls done every rotatePoll until it is true, for at most limit.
func poll(ctx context.Context, limit time.Duration, done func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t := time.NewTicker(rotatePoll)
	defer t.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
