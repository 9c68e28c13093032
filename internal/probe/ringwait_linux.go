package probe

import (
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// ringWaiter parks a goroutine in the Go runtime's network poller until a
// ring buffer has data. ringbuf.Reader.ReadInto blocks in epoll_wait, a
// system call, for as long as no event comes: the runtime sees a thread
// stuck in the kernel, its monitor thread (sysmon) takes the thread's P
// away every 10 ms and, having just acted, polls again every 20 µs: that
// spinning would be most of an idle daemon's CPU. A goroutine parked in
// the poller holds no thread and wakes sysmon for nothing.
type ringWaiter struct{ fd *polledFD }

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
	p, err := newPolledFD(fd, "probe events")
	if err != nil {
		return nil, err
	}
	return &ringWaiter{fd: p}, nil
}

// wait returns nil once ready reports true, checked first and then each
// time the kernel signals the ring; os.ErrClosed once the waiter is closed
// (or another error if the poller cannot watch the fd).
func (w *ringWaiter) wait(ready func() bool) error {
	return w.fd.wait(func(uintptr) bool { return ready() })
}

// Close ends a wait in progress and every later one.
func (w *ringWaiter) Close() error { return w.fd.close() }
