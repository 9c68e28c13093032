package probe

import (
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// timerAlarm is a prober's clock: a timerfd the goroutine waits on in the
// Go runtime's network poller, read and set with raw system calls.
//
// A time.Timer costs the process three to four thread wake-ups a tick on
// Linux: the runtime's sysmon thread sleeps only until the next timer, so
// it wakes with every tick and polls a few times, and the poller thread
// waits in whole milliseconds (epoll_pwait), so it wakes early and once
// more. A timerfd wakes the poller once, at its time, and sysmon not at
// all as long as no system call of the tick goes through the runtime's
// syscall hooks (those wake a sleeping sysmon): so the tick's calls are
// raw (unix.RawSyscall), each one that cannot block.
type timerAlarm struct{ fd *polledFD }

// newTimerAlarm returns an alarm that is not set.
func newTimerAlarm() (*timerAlarm, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create probe timer: %w", err)
	}
	p, err := newPolledFD(fd, "probe timer")
	if err != nil {
		return nil, err
	}
	return &timerAlarm{fd: p}, nil
}

// set makes the alarm ring once, d from now (at once for d <= 0),
// replacing what it was set to; a ring not yet waited for is forgotten.
func (a *timerAlarm) set(d time.Duration) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(max(int64(d), 1))} // 0 would disarm it
	var errno syscall.Errno
	err := a.fd.control(func(fd uintptr) {
		_, _, errno = unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
	})
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return fmt.Errorf("set probe timer: %w", err)
	}
	return nil
}

// wait returns when the alarm rings, os.ErrClosed once it is closed.
func (a *timerAlarm) wait() error {
	var n uint64
	var errno syscall.Errno
	err := a.fd.wait(func(fd uintptr) bool {
		_, _, errno = unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&n)), unsafe.Sizeof(n))
		return errno != unix.EAGAIN
	})
	if err == nil && errno != 0 {
		return fmt.Errorf("read probe timer: %w", errno)
	}
	return err
}

// close ends a wait in progress and every later one.
func (a *timerAlarm) close() error { return a.fd.close() }
