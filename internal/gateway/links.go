package gateway

import (
	"context"
	"net/netip"
)

// BondUp describes a bond that has just come up, for the data plane's
// probe and failover engine.
type BondUp struct {
	Bond    string
	Address netip.Prefix // the bond's own address (gratuitous ARPs)
	Taps    []string     // in slave order
	Primary string       // the configured primary ("" if none)
	Target  netip.Addr   // the hub bridge's address: what the links are probed against
	// Resumed: the bond was forwarding before this start (a data plane an
	// earlier daemon left, adopted): the engine resumes it (failover.EngineOptions.Resume).
	Resumed bool
}

// bondWatcher is told about bonds coming and going; the data plane starts
// and stops probing and failover decisions there.
type bondWatcher interface {
	// Up is called once a bond is up. An error is logged: the bond works
	// without its probe, with the kernel bond's own ARP monitor only (an
	// eBPF bond has no monitor of its own: it stays on its primary).
	Up(ctx context.Context, b BondUp) error
	// Down is called before a bond is taken down.
	Down(ctx context.Context, bond string)
	// Primary is called when the operator set a bond's primary.
	Primary(bond, tap string)
}

func (g *Gateway) linksUp(ctx context.Context, c *client) {
	if g.watch == nil {
		return
	}
	primary := ""
	if p := c.cfg.Bonding.Primary; p != nil {
		primary = *p
	}
	b := BondUp{Bond: c.cfg.Bond, Address: c.cfg.Address, Taps: c.cfg.Taps(), Primary: primary, Target: c.target, Resumed: c.adopted}
	if err := g.watch.Up(ctx, b); err != nil {
		g.log.Warn("bond works without its link probe and failover engine", "bond", c.cfg.Bond, "err", err)
	}
}

func (g *Gateway) linksDown(ctx context.Context, bond string) {
	if g.watch != nil {
		g.watch.Down(ctx, bond)
	}
}
