package apilisten

import (
	"net"
	"net/netip"
)

// isLoopback tells whether addr is a loopback address: 127.0.0.0/8, ::1,
// or IPv4-mapped loopback (::ffff:127.0.0.1). Addresses that are not IP
// (a Unix socket) or cannot be parsed are not loopback.
func isLoopback(addr net.Addr) bool {
	switch a := addr.(type) {
	case nil:
		return false
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return false
	}
	return ap.Addr().Unmap().IsLoopback()
}
