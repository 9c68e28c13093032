package hub

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"

	"github.com/multilink/multilink/api"
)

// adoptBridge takes over bridge link, one of ours an earlier run left: it
// keeps forwarding between the TAPs still enslaved. Its address becomes
// cfg's (the desired state may have changed while no daemon ran) and it is
// brought up. Something else of ours under that name is replaced.
func (h *Hub) adoptBridge(cfg api.Server, link netlink.Link) (netlink.Link, error) {
	if link.Type() != "bridge" {
		if err := h.opts.Netlink.LinkDel(link); err != nil {
			return nil, fmt.Errorf("remove %s (a %s an earlier run left) for bridge %s: %w", link.Attrs().Name, link.Type(), cfg.BridgeInterface, err)
		}
		return h.addBridge(cfg)
	}
	addrs, err := h.opts.Netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list the addresses of bridge %s: %w", cfg.BridgeInterface, err)
	}
	if err := h.opts.Netlink.AddrReplace(link, &netlink.Addr{IPNet: api.IPNet(cfg.BridgeIP)}); err != nil {
		return nil, fmt.Errorf("address %s on bridge %s: %w", cfg.BridgeIP, cfg.BridgeInterface, err)
	}
	for _, a := range addrs {
		p, ok := netip.AddrFromSlice(a.IP)
		bits, _ := a.Mask.Size()
		if ok && netip.PrefixFrom(p.Unmap(), bits) == cfg.BridgeIP {
			continue
		}
		if err := h.opts.Netlink.AddrDel(link, &a); err != nil {
			return nil, fmt.Errorf("remove the old address %s of bridge %s: %w", a.IPNet, cfg.BridgeInterface, err)
		}
	}
	if err := h.opts.Netlink.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("bring bridge %s up: %w", cfg.BridgeInterface, err)
	}
	h.log.Info("adopted the bridge an earlier run left", "bridge", cfg.BridgeInterface)
	return link, nil
}

// Leave lets go of every server without touching what forwards (daemon
// exit with --keep-dataplane): bridges, TAPs and keys stay for the next
// daemon to adopt; the claims are saved as they are.
func (h *Hub) Leave(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.servers)
	return nil
}

// Interfaces lists the bridges and TAPs of the servers started. The
// daemon's sweep of what an earlier run left spares them.
func (h *Hub) Interfaces() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for name, s := range h.servers {
		out = append(out, name)
		out = append(out, s.cfg.Taps()...)
	}
	slices.Sort(out)
	return out
}
