package tunnel

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// pidFD is a pidfd of a process that is not our child (adopted): it waits
// for the process's exit in the Go runtime's network poller, where it
// holds no thread (a pidfd is readable once its process has exited), and
// signals exactly that process even after its pid was reused. Go's own
// os.Process has a pidfd too, but its Wait needs a child. The pattern is
// probe's polledFD (pollfd_linux.go), kept apart rather than shared: the
// packages change on separate branches.
type pidFD struct {
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool
}

// openPidFD opens a non-blocking pidfd of pid.
func openPidFD(pid int) (*pidFD, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("pidfd %d", pid))
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pidfd %d: %w", pid, err)
	}
	return &pidFD{f: f, rc: rc}, nil
}

// wait returns nil once the process has exited, os.ErrClosed when the
// pidfd was closed first.
func (p *pidFD) wait() error {
	err := p.rc.Read(func(fd uintptr) bool {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 0)
		return err == nil && n > 0 // not yet (or EINTR): park in the poller
	})
	if err != nil && p.closed.Load() {
		return os.ErrClosed
	}
	if err == nil {
		return nil
	}
	// The poller cannot watch it (not expected on Linux 5.3 and later):
	// poll it on a thread, half a second at a time.
	for {
		ready := false
		if cerr := p.rc.Control(func(fd uintptr) {
			n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 500)
			ready = err == nil && n > 0
		}); cerr != nil {
			return os.ErrClosed
		}
		if ready {
			return nil
		}
	}
}

// signal sends sig to the process (pidfd_send_signal).
func (p *pidFD) signal(sig syscall.Signal) error {
	var serr error
	if err := p.rc.Control(func(fd uintptr) { serr = unix.PidfdSendSignal(int(fd), sig, nil, 0) }); err != nil {
		return fmt.Errorf("signal through %s: %w", p.f.Name(), err)
	}
	return serr
}

// close ends a wait in progress and every later one.
func (p *pidFD) close() error {
	p.closed.Store(true)
	return p.f.Close()
}

// adoptedProc wraps a verified pidfd of an openvpn that is not our child
// as a run: exited closes when it exits, with errStatusUnknown.
func adoptedProc(pid int, fd *pidFD) *proc {
	p := &proc{pid: pid, adopted: true, exited: make(chan struct{}), signal: fd.signal, release: func() { _ = fd.close() }}
	go func() {
		if err := fd.wait(); err != nil {
			return // released: nobody waits any more
		}
		_ = fd.close()
		p.err = errStatusUnknown
		close(p.exited)
	}()
	return p
}
