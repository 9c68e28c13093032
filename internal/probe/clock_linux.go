package probe

import (
	"time"

	"golang.org/x/sys/unix"
)

// monoClock reads CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns, without a
// system call: Go's monotonic clock on Linux is CLOCK_MONOTONIC read
// through the vDSO, and one clock_gettime at start gives the offset.
// (unix.ClockGettime is a real system call, through the runtime's hooks:
// each one wakes its sleeping sysmon thread, and a prober reads the clock
// every tick.)
type monoClock struct {
	t0   time.Time     // Go's clock when base was read (the midpoint)
	base uint64        // CLOCK_MONOTONIC ns at t0
	skew time.Duration // the offset is known to within skew
}

// newMonoClock reads both clocks; the offset is known to within skew,
// half the time the clock_gettime took.
func newMonoClock() monoClock {
	a := time.Now()
	base := monotonic()
	b := time.Now()
	half := b.Sub(a) / 2
	return monoClock{t0: a.Add(half), base: base, skew: half}
}

// now is CLOCK_MONOTONIC in ns.
func (c monoClock) now() uint64 { return c.base + uint64(time.Since(c.t0)) }

// monotonic is CLOCK_MONOTONIC in ns, read with a system call.
func monotonic() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}
