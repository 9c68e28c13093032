package api

import (
	"net/netip"
	"strings"

	"github.com/multilink/multilink/internal/errkind"
)

// MaxIfNameLen is the kernel's IFNAMSIZ less the terminating NUL.
const MaxIfNameLen = 15

// CheckIfName validates a network interface name: 1 to 15 bytes (the
// kernel's limit), not "." or "..", and only letters, digits, '.', '-' and
// '_'. That is stricter than the kernel (dev_valid_name), on purpose: names
// end up in OpenVPN config files, where '#', ';', quotes and spaces mean
// something, and every real interface name (eth0, wlp2s0, wwan0, eth0.100,
// br-lan) fits. It is the only gate between a request string and an
// interface operation.
func CheckIfName(field, name string) error {
	switch {
	case name == "":
		return errkind.Invalid(field, "interface name is empty")
	case len(name) > MaxIfNameLen:
		return errkind.Invalid(field, "interface name %q is longer than %d bytes", name, MaxIfNameLen)
	case name == "." || name == "..":
		return errkind.Invalid(field, "interface name %q is not allowed", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
		if !ok {
			return errkind.Invalid(field, "interface name %q has a forbidden character at byte %d (allowed: letters, digits, '.', '-', '_')", name, i)
		}
	}
	return nil
}

// parseIPv4 parses a unicast IPv4 address, optionally with a /prefix; when
// no prefix is given, defPrefix is used (the spec's /24).
func parseIPv4(field, s string, defPrefix int) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, errkind.Invalid(field, "address is empty")
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		p, err = netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, errkind.Invalid(field, "%q is not an IPv4 address or address/prefix", s)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, errkind.Invalid(field, "%q is not an IPv4 address", s)
		}
		p = netip.PrefixFrom(a, defPrefix)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, errkind.Invalid(field, "%q is not an IPv4 address", s)
	}
	if err := checkHostPrefix(field, p); err != nil {
		return netip.Prefix{}, err
	}
	return p, nil
}

// checkHostPrefix validates an interface address: a unicast IPv4 host
// address with a prefix of /1../30 that is neither the network's address
// nor its broadcast.
func checkHostPrefix(field string, p netip.Prefix) error {
	a := p.Addr()
	switch {
	case !p.IsValid():
		return errkind.Invalid(field, "is required: an IPv4 address")
	case !a.Is4():
		return errkind.Invalid(field, "%s is not an IPv4 address", a)
	case !unicast4(a):
		return errkind.Invalid(field, "%s is not a unicast host address", a)
	case p.Bits() < 1 || p.Bits() > 30:
		return errkind.Invalid(field, "prefix /%d is out of range /1../30", p.Bits())
	case a == p.Masked().Addr():
		return errkind.Invalid(field, "%s is the network address of %s", a, p.Masked())
	case isBroadcast(p):
		return errkind.Invalid(field, "%s is the broadcast address of %s", a, p.Masked())
	}
	return nil
}

// unicast4 reports whether a is an IPv4 address a host can have: not in
// 0.0.0.0/8 ("this network", which the kernel also refuses as an ARP
// target), loopback, multicast or the limited broadcast.
func unicast4(a netip.Addr) bool {
	return a.Is4() && a.As4()[0] != 0 && !a.IsMulticast() && !a.IsLoopback() &&
		a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

func isBroadcast(p netip.Prefix) bool {
	b := p.Addr().As4()
	host := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	mask := ^uint32(0) >> p.Bits()
	return host&mask == mask
}

// parseMask parses a netmask as dotted quad ("255.255.255.0") or prefix
// length ("24", "/24") and returns the prefix length.
func parseMask(field, s string) (int, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "/")
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		b := a.As4()
		m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		bits := 0
		for m&0x80000000 != 0 {
			bits++
			m <<= 1
		}
		if m != 0 {
			return 0, errkind.Invalid(field, "%q is not a contiguous netmask", s)
		}
		if bits < 1 || bits > 32 {
			return 0, errkind.Invalid(field, "netmask %q is out of range", s)
		}
		return bits, nil
	}
	n := 0
	if len(s) == 0 || len(s) > 2 {
		return 0, errkind.Invalid(field, "%q is not a netmask (dotted quad or prefix length)", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errkind.Invalid(field, "%q is not a netmask (dotted quad or prefix length)", s)
		}
		n = n*10 + int(c-'0')
	}
	if n < 1 || n > 32 {
		return 0, errkind.Invalid(field, "prefix length %d is out of range 1..32", n)
	}
	return n, nil
}
