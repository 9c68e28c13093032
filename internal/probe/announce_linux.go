package probe

import (
	"fmt"
	"net"
	"net/netip"
)

// Announce sends a gratuitous ARP for ip at mac out of ifindex (a bond:
// it leaves by the active slave), so the hub's bridge moves its forwarding
// entry and its neighbour entry at once. The calling thread's namespace is
// the device's.
func Announce(ifindex int, mac net.HardwareAddr, ip netip.Addr) error {
	if !ip.Is4() || len(mac) != 6 {
		return fmt.Errorf("announce %s at %s: want an IPv4 address and a MAC", ip, mac)
	}
	s, err := newPacketSender(ifindex)
	if err != nil {
		return fmt.Errorf("announce %s: %w", ip, err)
	}
	defer s.close()
	if err := s.send(arpRequest(broadcast, mac, ip, ip)); err != nil {
		return fmt.Errorf("announce %s: %w", ip, err)
	}
	return nil
}
