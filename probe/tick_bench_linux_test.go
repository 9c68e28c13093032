package probe

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkTickFloor measures what a Go goroutine woken every 20 ms (the
// active link's probe interval) costs this process with nothing else to
// do: its CPU time in percent of one CPU over 10 s, for a bare ticker,
// for a ticker making one system call per tick through the runtime
// (unix.Syscall: entering it wakes the runtime's sysmon thread from its
// sleep) and for one made raw (unix.RawSyscall: no runtime hooks). The
// probe's prober makes three per tick (ring poll, stats lookup, sendto);
// BenchmarkProbeCost measures the daemon's share with them, this bench the
// floor under it that belongs to Go's scheduler, not to the probe.
//
//	go test -run '^$' -bench TickFloor -benchtime 1x ./probe
func BenchmarkTickFloor(b *testing.B) {
	for _, c := range []struct {
		name string
		call func()
	}{
		{"nothing", func() {}},
		{"syscall", func() { unix.Syscall(unix.SYS_GETPID, 0, 0, 0) }},
		{"raw-syscall", func() { unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0) }},
	} {
		var p procCPU
		p.during(b, func() {
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for range 500 { // 10 s
				<-t.C
				c.call()
			}
		})
		b.Logf("BENCH tick floor, 20 ms ticker, %s per tick: %.2f%% of one CPU", c.name, p.percent())
		b.ReportMetric(p.percent(), "%cpu-"+c.name)
	}
}
