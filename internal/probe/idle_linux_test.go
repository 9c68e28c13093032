package probe

import (
	"testing"
	"time"

	"github.com/multilink/multilink/internal/tcattach"
	"github.com/vishvananda/netlink"
)

// TestMonitorIdle: an active link that sends no data is probed at the
// idle interval; a data frame sent on it brings the active interval back
// and the engine is told (a Resumed sample): by the kernel's event where
// there is a ring buffer, by the next idle tick where the counters are
// polled. With no data again for IdleAfter it is idle again. A standby
// link is never idle.
func TestMonitorIdle(t *testing.T) {
	const idle = 300 * time.Millisecond
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"ring buffer", Options{Attach: tcattach.Auto}},
		{"polling", Options{Attach: tcattach.Auto, NoRingbuf: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			c.opts.IdleInterval = idle
			m := w.monitor(t, c.opts)
			waitReplies(t, m, "tap1", 1, 20*time.Second)
			waitIdle(t, m, "tap1", true, IdleAfter+5*time.Second)
			if l := linkOf(t, m, "tap1"); l.Interval != idle {
				t.Errorf("idle active link probed every %s, want %s", l.Interval, idle)
			}
			if l := linkOf(t, m, "tap2"); l.Idle || l.Interval != DefaultBackupInterval {
				t.Errorf("standby: idle %t, every %s: want not idle, the backup interval", l.Idle, l.Interval)
			}
			ch, cancel := m.Subscribe(1024)
			defer cancel()
			tap, err := w.gw.Handle.LinkByName("tap1")
			if err != nil {
				t.Fatal(err)
			}
			addr, _ := netlink.ParseAddr("10.8.0.1/24")
			if err := w.gw.Handle.AddrAdd(tap, addr); err != nil {
				t.Fatal(err)
			}
			sent := time.Now()
			w.gw.Run(t, "ping", "-c", "1", "-W", "2", "-I", "tap1", hubIP.String())
			deadline := time.After(5 * time.Second)
			for resumed := false; !resumed; {
				select {
				case s := <-ch:
					if s.Link == "tap1" && s.Resumed {
						resumed = true
						t.Logf("resumed %s after the ping was sent (probe interval %s idle)", s.At.Sub(sent).Round(time.Millisecond), idle)
						if s.At.Before(sent.Add(-10 * time.Millisecond)) {
							t.Errorf("resumed at %s, before the data was sent", s.At.Sub(sent))
						}
					}
					if s.Link == "tap2" && s.Resumed {
						t.Errorf("a resumed sample for the standby: %+v", s)
					}
				case <-deadline:
					t.Fatal("no resumed sample after data was sent on the idle active link")
				}
			}
			if l := linkOf(t, m, "tap1"); l.Idle || l.Interval != DefaultInterval {
				t.Errorf("after data: idle %t, every %s: want the active interval", l.Idle, l.Interval)
			}
			waitIdle(t, m, "tap1", true, IdleAfter+5*time.Second)
		})
	}
}

// waitIdle waits until tap's idle state is want.
func waitIdle(t *testing.T, m *Monitor, tap string, want bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for linkOf(t, m, tap).Idle != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s idle is not %t after %s: %+v", tap, want, within, linkOf(t, m, tap))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
