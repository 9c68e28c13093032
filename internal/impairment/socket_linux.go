package impairment

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	// vnetHdrLen is the size of struct virtio_net_hdr that PACKET_VNET_HDR
	// puts before every frame read and expects before every frame written.
	vnetHdrLen = 10
	// recvBufLen holds a 64 KiB GSO super-frame with room to spare.
	recvBufLen = 256 << 10
	// socketRcvBuf is the kernel receive buffer asked for, so a burst is
	// not lost while a reader is descheduled.
	socketRcvBuf = 4 << 20

	vnetFlagDataValid = 0x2 // VIRTIO_NET_HDR_F_DATA_VALID: receive side only
	vnetGSONone       = 0   // VIRTIO_NET_HDR_GSO_NONE
)

// port is one interface's AF_PACKET socket, registered with the Go poller
// so reads and writes park the goroutine and Close unblocks them.
type port struct {
	name string
	f    *os.File
	rc   syscall.RawConn
}

// openPort opens the packet socket of interface name. It must run on a
// thread inside the interface's network namespace.
func openPort(name string) (*port, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("find interface %s: %w", name, err)
	}
	// Protocol 0 receives nothing until bind sets ETH_P_ALL together with
	// the ifindex, so no frame of another interface slips in before bind.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open packet socket for %s: %w", name, err)
	}
	if err := setupSocket(fd, ifi.Index); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set up packet socket on %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), "packet:"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("raw conn of packet socket on %s: %w", name, err)
	}
	return &port{name: name, f: f, rc: rc}, nil
}

func setupSocket(fd, ifindex int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		return fmt.Errorf("set PACKET_VNET_HDR: %w", err)
	}
	// Best effort: before Linux 4.20 the pkttype check in recv does it.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketRcvBuf); err != nil {
		// Without CAP_NET_ADMIN the capped variant still helps.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, socketRcvBuf)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind to ifindex %d: %w", ifindex, err)
	}
	// A veth passes every frame up anyway; other devices need promiscuous
	// mode to hand over frames for other MACs. Dropped with the socket.
	mreq := &unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, mreq); err != nil {
		return fmt.Errorf("set promiscuous: %w", err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// received describes one read.
type received struct {
	n        int  // bytes in the buffer: virtio_net_hdr plus frame
	trunc    bool // the frame was longer than the buffer
	outgoing bool // the frame leaves this interface: never forward it
}

// recv reads one frame with its virtio_net_hdr into buf, waiting for one.
func (p *port) recv(buf []byte) (received, error) {
	var r received
	var rerr error
	err := p.rc.Read(func(fd uintptr) bool {
		var flags int
		var from unix.Sockaddr
		r.n, _, flags, from, rerr = unix.Recvmsg(int(fd), buf, nil, 0)
		if errors.Is(rerr, unix.EAGAIN) || errors.Is(rerr, unix.EINTR) {
			return false
		}
		r.trunc = flags&unix.MSG_TRUNC != 0
		if ll, ok := from.(*unix.SockaddrLinklayer); ok {
			r.outgoing = ll.Pkttype == unix.PACKET_OUTGOING
		}
		return true
	})
	if err != nil {
		return r, fmt.Errorf("read from %s: %w", p.name, err)
	}
	if rerr != nil {
		return r, fmt.Errorf("read from %s: %w", p.name, rerr)
	}
	if r.n < vnetHdrLen {
		return r, fmt.Errorf("read from %s: %d bytes, shorter than virtio_net_hdr", p.name, r.n)
	}
	return r, nil
}

// send writes one frame that starts with its virtio_net_hdr.
func (p *port) send(b []byte) error {
	var werr error
	err := p.rc.Write(func(fd uintptr) bool {
		_, werr = unix.Write(int(fd), b)
		return !errors.Is(werr, unix.EAGAIN) && !errors.Is(werr, unix.EINTR)
	})
	if err != nil {
		return fmt.Errorf("write to %s: %w", p.name, err)
	}
	if werr != nil {
		return fmt.Errorf("write to %s: %w", p.name, werr)
	}
	return nil
}

func (p *port) close() error {
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("close packet socket on %s: %w", p.name, err)
	}
	return nil
}
