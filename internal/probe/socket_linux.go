package probe

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sender sends ready-made Ethernet frames out of one device.
type sender interface {
	send(frame []byte) error
	close() error
}

// packetSender is an AF_PACKET socket that only sends (protocol 0: the
// kernel delivers it nothing). Its frames go through the device's qdisc
// and tc egress, where the probe program sees them. It never blocks (a
// full send buffer fails the probe, EAGAIN), so it sends with a raw
// system call, which does not wake the runtime's sysmon (timerAlarm).
type packetSender struct {
	fd      int
	ifindex int
}

// newPacketSender opens a sending socket on ifindex, in the calling
// thread's network namespace.
func newPacketSender(ifindex int) (*packetSender, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open packet socket: %w", err)
	}
	return &packetSender{fd: fd, ifindex: ifindex}, nil
}

func (s *packetSender) send(frame []byte) error {
	if len(frame) < 6 {
		return fmt.Errorf("send probe on ifindex %d: a frame of %d bytes", s.ifindex, len(frame))
	}
	to := unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: htons(unix.ETH_P_ARP), Ifindex: int32(s.ifindex), Halen: 6}
	copy(to.Addr[:], frame[0:6])
	_, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(s.fd), uintptr(unsafe.Pointer(&frame[0])), uintptr(len(frame)),
		0, uintptr(unsafe.Pointer(&to)), unsafe.Sizeof(to))
	if errno != 0 {
		return fmt.Errorf("send probe on ifindex %d: %w", s.ifindex, errno)
	}
	return nil
}

func (s *packetSender) close() error { return unix.Close(s.fd) }

// discardSender sends nothing (Options.noFrames); closing closes its socket.
type discardSender struct{ *packetSender }

func (discardSender) send([]byte) error { return nil }

// htons is v in network byte order, as sockaddr_ll wants it.
func htons(v uint16) uint16 { return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v)) }
