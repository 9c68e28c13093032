package probe

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// ringWaiter parks a goroutine in the Go runtime's network poller until a
// ring buffer has data. ringbuf.Reader.ReadInto blocks in epoll_wait, a
// system call, for as long as no event comes: the runtime sees a thread
// stuck in the kernel, its monitor thread (sysmon) takes the thread's P
// away every 10 ms and, having just acted, polls again every 20 µs. That
// spinning was most of the idle daemon's CPU. A goroutine parked in the
// poller holds no thread and wakes sysmon for nothing.
type ringWaiter struct {
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool
}

// newRingWaiter watches the ring buffer map m (a duplicate of its fd, non
// blocking, so the runtime's poller takes it).
func newRingWaiter(m *ebpf.Map) (*ringWaiter, error) {
	fd, err := unix.FcntlInt(uintptr(m.FD()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("duplicate ring buffer fd: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("make ring buffer fd non-blocking: %w", err)
	}
	f := os.NewFile(uintptr(fd), "probe-events")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ring buffer fd: %w", err)
	}
	return &ringWaiter{f: f, rc: rc}, nil
}

// wait returns nil once ready reports true, checked first and then each
// time the kernel signals the ring; an error once the waiter is closed
// (or if the poller cannot watch the fd).
func (w *ringWaiter) wait(ready func() bool) error {
	err := w.rc.Read(func(uintptr) bool { return ready() })
	if err != nil && w.closed.Load() {
		return os.ErrClosed // the runtime says "use of closed file"
	}
	if err != nil {
		return fmt.Errorf("wait for probe events: %w", err)
	}
	return nil
}

// Close ends a wait in progress and every later one.
func (w *ringWaiter) Close() error {
	w.closed.Store(true)
	return w.f.Close()
}
