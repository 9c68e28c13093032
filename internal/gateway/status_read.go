package gateway

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/bond"
	"github.com/multilink/multilink/internal/errkind"
)

// Status returns every started client, by bond name.
func (g *Gateway) Status(ctx context.Context) []api.ClientStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]api.ClientStatus, 0, len(g.clients))
	for _, c := range g.clients {
		out = append(out, g.status(ctx, c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Bond < out[j].Bond })
	return out
}

func (g *Gateway) status(ctx context.Context, c *client) api.ClientStatus {
	st := api.ClientStatus{Bond: c.cfg.Bond, Address: c.cfg.Address.String(), ServerAPIURL: api.RedactURL(c.cfg.ServerAPIURL), Started: c.started,
		TunnelMode: c.mode}
	if info, err := g.bonds.Info(ctx, c.cfg.Bond); err == nil {
		st.Present, st.Driver, st.Active = true, info.Driver, info.Active
	}
	for i, tap := range c.cfg.Taps() {
		s := c.cfg.Slaves[i]
		ls := api.ClientLink{Tap: tap, HWInt: s.HWInt, IPServer: s.IPServer.String()}
		if i < len(c.ports) {
			ls.Port = c.ports[i]
		}
		if ts, ok := g.opts.Tunnels.Status(tap); ok {
			ls.Running, ls.Restarts, ls.Up = ts.Running, ts.Restarts, ts.AdminUp
		}
		st.Links = append(st.Links, ls)
	}
	return st
}

// Configs returns the configuration of every started client, by bond name,
// with the bond parameters as last set.
func (g *Gateway) Configs() []api.Client {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]api.Client, 0, len(g.clients))
	for _, c := range g.clients {
		out = append(out, c.cfg)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Bond < out[j].Bond })
	return out
}

// BondParams reads the live parameters of a bond this daemon manages.
func (g *Gateway) BondParams(ctx context.Context, name string) (api.BondInfo, error) {
	g.mu.Lock()
	_, ok := g.clients[name]
	g.mu.Unlock()
	if !ok {
		return api.BondInfo{}, errkind.NotFound("no client with bond %s is started", name)
	}
	return g.bonds.Info(ctx, name)
}

// SetBondParams changes the given parameters of a managed bond. The bond
// driver is the one judge of p: it merges p over the live parameters (with
// what the kernel changes by itself, such as on a mode change), validates
// the result and changes nothing if p is invalid. The parameters then in
// force (bond.Info.Desired) become the client's bonding, so a restart
// recreates the bond as it was last set. Changes to one gateway's bonds
// run one at a time, without g.mu.
func (g *Gateway) SetBondParams(ctx context.Context, name string, p api.BondParams) (api.BondInfo, error) {
	g.setMu.Lock()
	defer g.setMu.Unlock()
	g.mu.Lock()
	c, ok := g.clients[name]
	g.mu.Unlock()
	if !ok {
		return api.BondInfo{}, errkind.NotFound("no client with bond %s is started", name)
	}
	// The engine learns a new primary first: told after the kernel, it
	// would take the kernel's move for one of the bond's own and steer
	// back to the primary it still ranks first.
	told := p.Primary != nil && g.watch != nil
	oldPrimary := "" // none
	if told {
		g.mu.Lock()
		if c.cfg.Bonding.Primary != nil {
			oldPrimary = *c.cfg.Bonding.Primary
		}
		g.mu.Unlock()
		g.watch.Primary(name, *p.Primary)
	}
	if err := g.bonds.Set(ctx, name, p); err != nil {
		if told {
			g.watch.Primary(name, oldPrimary)
		}
		return api.BondInfo{}, err
	}
	info, err := g.bonds.Info(ctx, name)
	if err != nil {
		return api.BondInfo{}, fmt.Errorf("read bond %s back: %w", name, err)
	}
	g.mu.Lock()
	if g.clients[name] == c { // not stopped meanwhile
		// The live primary may be the failover engine's choice of the
		// moment; the operator's stays the desired one unless given.
		primary := c.cfg.Bonding.Primary
		c.cfg.Bonding = bond.Desired(info)
		if p.Primary == nil && c.cfg.Bonding.Primary != nil { // the mode has one
			c.cfg.Bonding.Primary = primary
		}
	}
	g.mu.Unlock()
	return info, nil
}

func parseAddr(s string) (netip.Addr, error) { return netip.ParseAddr(s) }
