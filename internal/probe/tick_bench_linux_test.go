package probe

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkTickFloor measures what a Go goroutine woken every 20 ms (the
// active link's probe interval) costs this process with nothing else to
// do: its CPU time in percent of one CPU over 10 s. Woken by a
// time.Ticker: bare, with one system call per tick through the runtime
// (unix.Syscall: entering it wakes the runtime's sysmon thread from its
// sleep) and with one made raw (unix.RawSyscall: no runtime hooks). Woken
// by the prober's timerAlarm (a timerfd in the runtime's poller, set with
// a raw call): bare and with one call through the runtime. The prober
// makes three calls per tick (stats lookup, sendto, and the alarm's set),
// all raw; BenchmarkProbeCost measures the daemon's share with them, this
// bench the floor under it that belongs to the wake-up, not to the probe.
//
//	go test -run '^$' -bench TickFloor -benchtime 1x ./probe
func BenchmarkTickFloor(b *testing.B) {
	const iv = 20 * time.Millisecond
	for _, c := range []struct {
		name  string
		alarm bool
		call  func()
	}{
		{"ticker", false, func() {}},
		{"ticker-syscall", false, func() { unix.Syscall(unix.SYS_GETPID, 0, 0, 0) }},
		{"ticker-raw-syscall", false, func() { unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0) }},
		{"alarm", true, func() {}},
		{"alarm-syscall", true, func() { unix.Syscall(unix.SYS_GETPID, 0, 0, 0) }},
	} {
		var p procCPU
		if c.alarm {
			a, err := newTimerAlarm()
			if err != nil {
				b.Fatal(err)
			}
			p.during(b, func() {
				for range 500 { // 10 s
					if err := a.set(iv); err != nil {
						b.Fatal(err)
					}
					if err := a.wait(); err != nil {
						b.Fatal(err)
					}
					c.call()
				}
			})
			a.close()
		} else {
			p.during(b, func() {
				t := time.NewTicker(iv)
				defer t.Stop()
				for range 500 {
					<-t.C
					c.call()
				}
			})
		}
		b.Logf("BENCH tick floor, 20 ms, %s: %.2f%% of one CPU", c.name, p.percent())
		b.ReportMetric(p.percent(), "%cpu-"+c.name)
	}
}
