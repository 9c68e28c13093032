package api

import (
	"net"
	"net/netip"
)

// IPNet converts a prefix to the *net.IPNet netlink takes, keeping the
// host address (10.8.0.254/24, not 10.8.0.0/24).
func IPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
