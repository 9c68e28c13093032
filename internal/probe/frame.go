package probe

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
)

// Slots is how many probes of a link may be in flight at once; the low
// bits of the probe's source MAC name the slot (bpf/probe.c PROBE_SLOTS).
const Slots = 32

// eventResumed in a ring buffer event's slot: not a reply, data leaves
// the link again after it was idle (bpf/probe.c EVENT_RESUMED).
const eventResumed = 0xffffffff

// frameLen is an ARP packet after its Ethernet header: 14 + 28 bytes.
const frameLen = 42

var broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// NewProbeMAC returns a random, locally administered unicast MAC whose slot
// bits are 0: a link's probe base address.
func NewProbeMAC() (net.HardwareAddr, error) {
	m := make(net.HardwareAddr, 6)
	if _, err := rand.Read(m); err != nil {
		return nil, fmt.Errorf("make probe MAC: %w", err)
	}
	m[0] = m[0]&^0x01 | 0x02 // unicast, locally administered
	m[5] &^= Slots - 1
	return m, nil
}

// slotMAC is base with slot in its low bits.
func slotMAC(base net.HardwareAddr, slot int) net.HardwareAddr {
	m := append(net.HardwareAddr(nil), base...)
	m[5] = base[5]&^(Slots-1) | byte(slot&(Slots-1))
	return m
}

// probeFrame returns an RFC 5227 ARP probe for target from base's slot:
// sender IP 0.0.0.0, target hardware address zero, sent to dst (broadcast,
// or the target's MAC once it is known).
func probeFrame(dst, base net.HardwareAddr, slot int, target netip.Addr) []byte {
	return arpRequest(dst, slotMAC(base, slot), netip.IPv4Unspecified(), target)
}

// arpRequest is an Ethernet ARP request (IPv4) from sha/spa for tpa,
// with a zero target hardware address, sent to dst.
func arpRequest(dst, sha net.HardwareAddr, spa, tpa netip.Addr) []byte {
	b := make([]byte, frameLen)
	copy(b[0:6], dst)
	copy(b[6:12], sha)
	binary.BigEndian.PutUint16(b[12:14], 0x0806) // ETH_P_ARP
	binary.BigEndian.PutUint16(b[14:16], 1)      // Ethernet
	binary.BigEndian.PutUint16(b[16:18], 0x0800) // IPv4
	b[18], b[19] = 6, 4
	binary.BigEndian.PutUint16(b[20:22], 1) // request
	copy(b[22:28], sha)
	s, t := spa.As4(), tpa.As4()
	copy(b[28:32], s[:])
	copy(b[38:42], t[:])
	return b
}
