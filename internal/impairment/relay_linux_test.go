package impairment

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/nstest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if left := leftoverNamespaces(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "namespaces left behind: %v\n", left)
		code = 1
	}
	os.Exit(code)
}

// TestPlainRelay: unimpaired, the relay carries ping, 1400-byte pings and
// a TCP transfer of 4 MB intact, in wire-sized frames.
func TestPlainRelay(t *testing.T) {
	nstest.RequireCommand(t, "ping")
	w := newWorld(t, LinkOptions{})
	out := w.left.Run(t, "ping", "-c", "3", "-i", "0.2", "-W", "2", rightAddr)
	if !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("ping across the relay:\n%s", out)
	}
	out = w.left.Run(t, "ping", "-c", "3", "-i", "0.2", "-W", "2", "-s", "1400", rightAddr)
	if !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("1400-byte ping across the relay:\n%s", out)
	}
	// Larger than the MTU: IP fragments, each a full-size frame.
	if p := pingN(t, w.left, rightAddr, 5, 20*time.Millisecond, 4000, time.Second); p.received != 5 {
		t.Fatalf("4000-byte echo: %d of 5 answered", p.received)
	}
	took := transfer(t, w, 4<<20)
	s := w.link.Stats()
	t.Logf("4 MiB by TCP in %v; a->b %+v; b->a %+v", took, s.AtoB, s.BtoA)
	if s.AtoB.Bytes < 4<<20 {
		t.Errorf("a->b carried %d bytes, less than the 4 MiB sent", s.AtoB.Bytes)
	}
	if s.AtoB.GSO != 0 || s.AtoB.Oversize != 0 {
		t.Errorf("gso_max_segs 1 should keep frames wire-sized: %d super-frames, %d oversize", s.AtoB.GSO, s.AtoB.Oversize)
	}
	for _, c := range []Counters{s.AtoB, s.BtoA} {
		if c.Lost+c.CutDrops+c.QueueDrops+c.SendErrors+c.ReadErrors != 0 {
			t.Errorf("unimpaired relay dropped frames: %+v", c)
		}
	}
}

// TestSuperFrames: with the outer ends' offloads left on, TCP hands the
// relay TSO super-frames with partial checksums; PACKET_VNET_HDR carries
// them through intact.
func TestSuperFrames(t *testing.T) {
	w := newWorld(t, LinkOptions{KeepOffloads: true})
	took := transfer(t, w, 4<<20)
	s := w.link.Stats()
	t.Logf("4 MiB by TCP in %v with offloads on; a->b %+v", took, s.AtoB)
	if s.AtoB.Oversize+s.AtoB.SendErrors != 0 {
		t.Errorf("super-frames dropped: %+v", s.AtoB)
	}
	if s.AtoB.GSO == 0 {
		t.Skip("skipped: no super-frame reached the relay (this kernel segmented before the veth), so the vnet header path went untested")
	}
}

// TestDelay: 50 ms one way adds about 50 ms to the RTT, both ways about 100.
func TestDelay(t *testing.T) {
	w := newWorld(t, LinkOptions{})
	measure := func() time.Duration {
		t.Helper()
		p := pingN(t, w.left, rightAddr, 20, 10*time.Millisecond, 56, time.Second)
		if p.received != p.sent {
			t.Fatalf("%d of %d echoes answered", p.received, p.sent)
		}
		return p.median()
	}
	base := measure()
	if err := w.link.Set(AtoB, Impairment{Delay: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	one := measure()
	if err := w.link.SetBoth(Impairment{Delay: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	both := measure()
	if err := w.link.SetBoth(Impairment{}); err != nil {
		t.Fatal(err)
	}
	after := measure()
	t.Logf("median RTT: base %v, +50 ms one way %v, +50 ms both ways %v, cleared %v", base, one, both, after)
	if added := one - base; added < 45*time.Millisecond || added > 80*time.Millisecond {
		t.Errorf("50 ms one way added %v to the RTT, want 45-80 ms", added)
	}
	if added := both - base; added < 95*time.Millisecond || added > 140*time.Millisecond {
		t.Errorf("50 ms both ways added %v to the RTT, want 95-140 ms", added)
	}
	if after-base > 20*time.Millisecond {
		t.Errorf("RTT %v after clearing the delay, base %v", after, base)
	}
}

// TestLoss: 30% loss one way with a fixed seed loses 15-45% of 200 echoes,
// and the counters account for every echo request.
func TestLoss(t *testing.T) {
	w := newWorld(t, LinkOptions{Seed: 7})
	if p := pingN(t, w.left, rightAddr, 3, 10*time.Millisecond, 56, time.Second); p.received != 3 {
		t.Fatalf("warm-up: %d of 3 answered", p.received)
	}
	before := w.link.Stats()
	if err := w.link.Set(AtoB, Impairment{Loss: 0.3}); err != nil {
		t.Fatal(err)
	}
	p := pingN(t, w.left, rightAddr, 200, 5*time.Millisecond, 56, time.Second)
	after := w.link.Stats()
	fwd := after.AtoB.Frames - before.AtoB.Frames
	lost := after.AtoB.Lost - before.AtoB.Lost
	back := after.BtoA.Frames - before.BtoA.Frames
	t.Logf("seed %d: %d of %d answered (loss %.1f%%); a->b forwarded %d, lost %d; b->a forwarded %d",
		w.link.Seed(), p.received, p.sent, 100*p.loss(), fwd, lost, back)
	if l := p.loss(); l < 0.15 || l > 0.45 {
		t.Errorf("loss %.1f%%, want 15-45%%", 100*l)
	}
	// ARP may add a frame or two each way; nothing else crosses.
	if fwd+lost < 200 || fwd+lost > 204 {
		t.Errorf("a->b saw %d frames for 200 echo requests", fwd+lost)
	}
	if uint64(p.received) > fwd || uint64(p.received)+4 < fwd {
		t.Errorf("%d replies for %d requests forwarded", p.received, fwd)
	}
	if back < uint64(p.received) || back > uint64(p.received)+4 {
		t.Errorf("b->a forwarded %d frames, %d replies arrived", back, p.received)
	}
}

// TestCut: a cut link passes nothing, and traffic resumes when restored.
func TestCut(t *testing.T) {
	w := newWorld(t, LinkOptions{})
	if p := pingN(t, w.left, rightAddr, 3, 10*time.Millisecond, 56, time.Second); p.received != 3 {
		t.Fatalf("before the cut: %d of 3 answered", p.received)
	}
	w.link.Cut(true)
	if im := w.link.Impairment(BtoA); !im.Cut {
		t.Fatalf("b->a after Cut(true): %v", im)
	}
	p := pingN(t, w.left, rightAddr, 20, 10*time.Millisecond, 56, 500*time.Millisecond)
	if p.received != 0 {
		t.Errorf("cut link answered %d of 20 echoes", p.received)
	}
	if c := w.link.Stats().AtoB.CutDrops; c < 20 {
		t.Errorf("a->b dropped %d frames at the cut, want at least 20", c)
	}
	w.link.Cut(false)
	if p := pingN(t, w.left, rightAddr, 10, 10*time.Millisecond, 56, time.Second); p.received != 10 {
		t.Errorf("after restoring: %d of 10 answered", p.received)
	}
}

// TestClose: Close returns promptly with frames in flight, ends every
// goroutine, closes the sockets and removes the veths.
func TestClose(t *testing.T) {
	w := newNamespaces(t)
	goroutines := runtime.NumGoroutine()
	sockets := openSockets(t)
	w.connect(t, LinkOptions{})
	if err := w.link.SetBoth(Impairment{Delay: time.Second}); err != nil {
		t.Fatal(err)
	}
	pingN(t, w.left, rightAddr, 5, 10*time.Millisecond, 56, 10*time.Millisecond) // now in flight
	start := time.Now()
	if err := w.link.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Close took %v", took)
	}
	for _, n := range []*nstest.NS{w.left, w.mid, w.right} {
		if l := links(t, n); len(l) != 0 {
			t.Errorf("links left in %s: %v", n.Name, l)
		}
	}
	if err := w.link.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	waitGoroutines(t, goroutines)
	if now := openSockets(t); now > sockets {
		t.Errorf("%d sockets open, %d before", now, sockets)
	}
}

// TestContextEndsRelay: cancelling New's context stops the relay.
func TestContextEndsRelay(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	left, mid, right := nstest.New(t, nsPrefix), nstest.New(t, nsPrefix), nstest.New(t, nsPrefix)
	nstest.Veth(t, left, "u1", leftAddr+"/24", mid, "g1", "")
	nstest.Veth(t, mid, "h1", "", right, "u1", rightAddr+"/24")
	ctx, cancel := context.WithCancel(t.Context())
	r, err := New(ctx, Options{NSPath: mid.Path(), A: "g1", B: "h1", Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("new relay: %v", err)
	}
	if p := pingN(t, left, rightAddr, 3, 10*time.Millisecond, 56, time.Second); p.received != 3 {
		t.Fatalf("%d of 3 answered", p.received)
	}
	cancel()
	waitGoroutines(t, goroutines)
	if p := pingN(t, left, rightAddr, 3, 10*time.Millisecond, 56, 300*time.Millisecond); p.received != 0 {
		t.Errorf("%d of 3 answered after cancel", p.received)
	}
	if err := r.Close(); err != nil {
		t.Errorf("close after cancel: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, o := range []Options{{A: "x"}, {A: "x", B: "x"}, {A: "x", B: "y", QueueLen: -1}} {
		if _, err := New(t.Context(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	mid := nstest.New(t, nsPrefix)
	if _, err := New(t.Context(), Options{NSPath: mid.Path(), A: "nope0", B: "nope1"}); err == nil {
		t.Error("relay on missing interfaces: no error")
	}
}

// waitGoroutines waits up to 2 s for the goroutine count to fall to want.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	var n int
	for range 200 {
		if n = runtime.NumGoroutine(); n <= want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Errorf("%d goroutines, %d before:\n%s", n, want, buf[:runtime.Stack(buf, true)])
}

// openSockets counts this process's open socket descriptors.
func openSockets(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// TestInterfaceFlap: the relay survives its interfaces going down and up.
func TestInterfaceFlap(t *testing.T) {
	w := newWorld(t, LinkOptions{})
	for _, name := range []string{"g1", "h1"} {
		l, err := w.mid.Handle.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.mid.Handle.LinkSetDown(l); err != nil {
			t.Fatal(err)
		}
		if p := pingN(t, w.left, rightAddr, 3, 10*time.Millisecond, 56, 300*time.Millisecond); p.received != 0 {
			t.Errorf("%s down: %d of 3 answered", name, p.received)
		}
		if err := w.mid.Handle.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		if p := pingN(t, w.left, rightAddr, 5, 10*time.Millisecond, 56, time.Second); p.received != 5 {
			t.Errorf("%s up again: %d of 5 answered", name, p.received)
		}
	}
	s := w.link.Stats()
	t.Logf("a->b %+v; b->a %+v", s.AtoB, s.BtoA)
}
