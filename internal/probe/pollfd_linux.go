package probe

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
)

// polledFD is a non-blocking fd that a goroutine waits on in the Go
// runtime's network poller, where it holds no thread (ringWaiter,
// timerAlarm).
type polledFD struct {
	name   string
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool
}

// newPolledFD takes fd, which must be non-blocking, and closes it on error.
func newPolledFD(fd int, name string) (*polledFD, error) {
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s fd: %w", name, err)
	}
	return &polledFD{name: name, f: f, rc: rc}, nil
}

// wait returns nil once ready reports true, called first and then each
// time the poller says the fd is readable; os.ErrClosed once the fd is
// closed (or another error if the poller cannot watch it).
func (p *polledFD) wait(ready func(fd uintptr) bool) error {
	err := p.rc.Read(ready)
	if err != nil && p.closed.Load() {
		return os.ErrClosed // the runtime says "use of closed file"
	}
	if err != nil {
		return fmt.Errorf("wait for %s: %w", p.name, err)
	}
	return nil
}

// control runs f with the fd, which stays open until f returns.
func (p *polledFD) control(f func(fd uintptr)) error { return p.rc.Control(f) }

// close ends a wait in progress and every later one.
func (p *polledFD) close() error {
	p.closed.Store(true)
	return p.f.Close()
}
