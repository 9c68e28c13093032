package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/multilink/multilink/internal/bond"
)

// left tells whether bond name is there already, one of ours: what an
// earlier run of this daemon left (and a start adopts).
func (g *Gateway) left(name string) bool {
	l, err := g.nl.LinkByName(name)
	return err == nil && g.opts.Mark.Owns(l.Attrs().Alias)
}

// Leave lets go of every client without touching what forwards (daemon
// exit with --keep-dataplane): the engines stop steering, the probe and
// the bond drivers close their handles, and bonds, TAPs, routes, rules
// and key files stay for the next daemon to adopt. Starts and stops under
// way end first (or ctx does).
func (g *Gateway) Leave(ctx context.Context) error {
	g.waitBusy(ctx)
	g.mu.Lock()
	clear(g.clients)
	g.mu.Unlock()
	if g.dp == nil {
		return nil
	}
	if err := g.dp.Release(ctx); err != nil {
		return fmt.Errorf("let go of probes and bond drivers: %w", err)
	}
	return nil
}

// waitBusy waits until the starts and stops under way have ended, or ctx.
func (g *Gateway) waitBusy(ctx context.Context) {
	g.mu.Lock()
	var running []chan struct{}
	for _, b := range g.busy {
		running = append(running, b.done)
	}
	g.mu.Unlock()
	for _, done := range running {
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
}

// Interfaces lists the interfaces the clients started or being started
// use: bonds (with an eBPF bond's hidden peer) and TAPs. The daemon's sweep
// of what an earlier run left spares them.
func (g *Gateway) Interfaces() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for name, c := range g.clients {
		out = append(out, name, bond.PeerName(name))
		out = append(out, c.cfg.Taps()...)
	}
	for name, b := range g.busy {
		out = append(out, bond.PeerName(name))
		out = append(out, b.names...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// SweepRoutes removes the policy routing of every journalled mark no
// client uses: what an earlier run left and this one did not adopt.
// The daemon calls it once the desired clients have been started.
func (g *Gateway) SweepRoutes() error {
	g.mu.Lock()
	used := map[uint32]bool{}
	for _, c := range g.clients {
		for _, r := range c.routes {
			used[r.mark] = true
		}
	}
	for _, b := range g.busy {
		for i := range linksPerSlot {
			used[markFor(b.slot, i)] = true
		}
	}
	g.mu.Unlock()
	if err := sweepRoutes(g.sweeper, g.journal, func(m uint32) bool { return used[m] }, g.log); err != nil {
		return fmt.Errorf("remove the policy routing an earlier run left: %w", err)
	}
	return nil
}

// release closes the data plane's handles, leaving its kernel objects.
func (s *dataplane) Release(ctx context.Context) error {
	s.stopCPU()
	s.brain.Close() // nothing steers any more
	return errors.Join(s.monitor.Release(), s.bonds.Release(ctx))
}
