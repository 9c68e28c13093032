package probe

import (
	"encoding/binary"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// sender sends ready-made Ethernet frames out of one device.
type sender interface {
	send(frame []byte) error
	close() error
}

// packetSender is an AF_PACKET socket that only sends (protocol 0: the
// kernel delivers it nothing). Its frames go through the device's qdisc
// and tc egress, where the probe program sees them.
type packetSender struct {
	fd      int
	ifindex int
}

// newPacketSender opens a sending socket on ifindex, in the calling
// thread's network namespace.
func newPacketSender(ifindex int) (*packetSender, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open packet socket: %w", err)
	}
	return &packetSender{fd: fd, ifindex: ifindex}, nil
}

func (s *packetSender) send(frame []byte) error {
	to := &unix.SockaddrLinklayer{Ifindex: s.ifindex, Protocol: htons(unix.ETH_P_ARP), Halen: 6}
	copy(to.Addr[:], net.HardwareAddr(frame[0:6]))
	if err := unix.Sendto(s.fd, frame, 0, to); err != nil {
		return fmt.Errorf("send probe on ifindex %d: %w", s.ifindex, err)
	}
	return nil
}

func (s *packetSender) close() error { return unix.Close(s.fd) }

// htons is v in network byte order, as sockaddr_ll wants it.
func htons(v uint16) uint16 { return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v)) }
