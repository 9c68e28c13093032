package ping

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/nstest"
)

// requireRaw skips (fails in the kernel lab) without CAP_NET_RAW, which
// privileged pings need.
func requireRaw(t *testing.T) {
	t.Helper()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	ok := unix.Capget(&hdr, &data[0]) == nil && data[0].Effective&(1<<unix.CAP_NET_RAW) != 0
	nstest.Require(t, ok, "needs CAP_NET_RAW for raw ICMP sockets (run as root)")
}

// hasLoopback reports whether this host's loopback has ip.
func hasLoopback(ip netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if got, ok := netip.AddrFromSlice(n.IP); ok && got.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

// TestPingLoopback pings 127.0.0.1 and ::1: loopback only, never another
// address. (Not in a fresh namespace: nstest.Do may run on the process's
// main thread, which then stays in the namespace.)
func TestPingLoopback(t *testing.T) {
	requireRaw(t)
	p := New(slog.New(slog.DiscardHandler))
	for _, s := range []string{"127.0.0.1", "::1"} {
		t.Run(s, func(t *testing.T) {
			ip := netip.MustParseAddr(s)
			nstest.Require(t, hasLoopback(ip), "this host's loopback has no %s", ip)
			res, err := p.Ping(t.Context(), api.PingRequest{IP: ip, Count: 3, Interval: 20, Timeout: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if res.IP != s || res.Sent != 3 || res.Received != 3 || res.LossPercent != 0 {
				t.Fatalf("result %+v, want 3 sent, 3 received from %s", res, s)
			}
			if !(res.MinMs > 0 && res.MinMs <= res.AvgMs && res.AvgMs <= res.MaxMs) {
				t.Errorf("RTTs not ordered 0 < min <= avg <= max: %+v", res)
			}
			if res.StddevMs < 0 {
				t.Errorf("negative stddev: %+v", res)
			}
		})
	}
}

// TestPingCancel: a cancelled context ends a long test at once with the
// context's error.
func TestPingCancel(t *testing.T) {
	requireRaw(t)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := New(nil).Ping(ctx, api.PingRequest{IP: netip.MustParseAddr("127.0.0.1"), Count: 100, Interval: 500, Timeout: 1000})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelled ping took %s", d)
	}
}
