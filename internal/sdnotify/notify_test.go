package sdnotify

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen makes the socket systemd would listen on and points NOTIFY_SOCKET
// at it.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

// next reads one datagram (a bounded wait: the sends are synchronous, so
// it is there already or never comes).
func next(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read a notification: %v", err)
	}
	return string(buf[:n])
}

func TestReadyStatusStopping(t *testing.T) {
	c := listen(t)
	t.Setenv("WATCHDOG_USEC", "")
	n := New(nil)
	if !n.Enabled() || n.WatchdogInterval() != 0 {
		t.Fatalf("enabled %t, watchdog %s", n.Enabled(), n.WatchdogInterval())
	}
	n.Ready("restored: 1 server\nsecond line")
	if got, want := next(t, c), "READY=1\nSTATUS=restored: 1 server second line"; got != want {
		t.Errorf("ready: %q, want %q", got, want)
	}
	n.Status("ok")
	if got := next(t, c); got != "STATUS=ok" {
		t.Errorf("status: %q", got)
	}
	n.Stopping("stopping: removing bridges")
	if got := next(t, c); got != "STOPPING=1\nSTATUS=stopping: removing bridges" {
		t.Errorf("stopping: %q", got)
	}
}

func TestWithoutSocketNothing(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "2000000")
	n := New(nil)
	if n.Enabled() || n.WatchdogInterval() != 0 {
		t.Fatalf("enabled %t, watchdog %s without NOTIFY_SOCKET", n.Enabled(), n.WatchdogInterval())
	}
	n.Ready("x") // no socket: must not panic or block
	called := false
	n.Watchdog(context.Background(), func(context.Context) (string, error) { called = true; return "", nil })
	if called {
		t.Error("the watchdog ran its check without a service manager")
	}
	var zero *Notifier
	zero.Status("x")
}

func TestWatchdogPingsAfterCheck(t *testing.T) {
	c := listen(t)
	t.Setenv("WATCHDOG_USEC", "200000") // 200 ms: pings every 100 ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := New(nil)
	if got := n.WatchdogInterval(); got != 100*time.Millisecond {
		t.Fatalf("interval %s, want half of WATCHDOG_USEC", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	checks := make(chan int, 10)
	done := make(chan struct{})
	i := 0
	go func() {
		defer close(done)
		n.Watchdog(ctx, func(context.Context) (string, error) {
			i++
			checks <- i
			if i == 2 {
				return "", errors.New("netlink: busy")
			}
			return "ok: 1 bond", nil
		})
	}()
	for k, want := range []string{"WATCHDOG=1\nSTATUS=ok: 1 bond", "WATCHDOG=1\nSTATUS=check failed: netlink: busy"} {
		got := next(t, c)
		if got != want {
			t.Errorf("ping %d: %q, want %q", k+1, got, want)
		}
		if n := <-checks; n != k+1 {
			t.Errorf("ping %d followed check %d", k+1, n)
		}
	}
	cancel()
	<-done
}

func TestWatchdogOtherPID(t *testing.T) {
	listen(t)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	if got := New(nil).WatchdogInterval(); got != 0 {
		t.Errorf("watchdog meant for PID %d taken by %d: interval %s", os.Getpid()+1, os.Getpid(), got)
	}
}

func TestWatchdogStuckCheckNoPing(t *testing.T) {
	c := listen(t)
	t.Setenv("WATCHDOG_USEC", "100000")
	t.Setenv("WATCHDOG_PID", "")
	n := New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Watchdog(ctx, func(cctx context.Context) (string, error) {
			<-cctx.Done() // a check that outlives its deadline
			<-release
			return "late", nil
		})
	}()
	if err := c.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if k, err := c.Read(buf); err == nil {
		t.Errorf("a ping while the check was stuck: %q", buf[:k])
	} else if !strings.Contains(err.Error(), "timeout") {
		t.Fatal(err)
	}
	cancel()
	close(release)
	<-done
}
