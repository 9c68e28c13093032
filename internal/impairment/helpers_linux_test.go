package impairment

import (
	"bytes"
	crand "crypto/rand"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/nstest"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

const (
	leftAddr  = "192.0.2.1"
	rightAddr = "192.0.2.2"
	nsPrefix  = "imp" // namespaces are imp-<hex>; TestMain checks none is left
)

// world is the test topology: left u1 <-> middle g1 [relay] h1 <-> right u1.
type world struct {
	left, mid, right *nstest.NS
	link             *Link
}

func handle(n *nstest.NS) netns.NsHandle { return netns.NsHandle(n.Fd()) }

// newWorld builds the three namespaces and the emulated link.
func newWorld(t *testing.T, o LinkOptions) *world {
	t.Helper()
	w := newNamespaces(t)
	w.connect(t, o)
	return w
}

// newNamespaces makes the three namespaces, with IPv6 off in the outer
// ones too, so that the relay carries only ARP and the test's own traffic
// and the counters can be checked exactly.
func newNamespaces(t *testing.T) *world {
	t.Helper()
	w := &world{left: nstest.New(t, nsPrefix), mid: nstest.New(t, nsPrefix), right: nstest.New(t, nsPrefix)}
	for _, n := range []*nstest.NS{w.left, w.right} {
		err := n.Do(func() error {
			return disableIPv6("default")
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// connect builds the emulated link between the namespaces, with addresses
// on the outer ends.
func (w *world) connect(t *testing.T, o LinkOptions) {
	t.Helper()
	o.Left, o.Middle, o.Right = handle(w.left), handle(w.mid), handle(w.right)
	o.LeftName, o.MiddleLeft, o.MiddleRight, o.RightName = "u1", "g1", "h1", "u1"
	if o.Seed == 0 {
		o.Seed = 42
	}
	o.Logger = testLogger(t)
	l, err := NewLink(t.Context(), o)
	if err != nil {
		t.Fatalf("new link: %v", err)
	}
	w.link = l
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close link: %v", err)
		}
	})
	for _, e := range []struct {
		n    *nstest.NS
		addr string
	}{{w.left, leftAddr + "/24"}, {w.right, rightAddr + "/24"}} {
		link, err := e.n.Handle.LinkByName("u1")
		if err != nil {
			t.Fatalf("u1 in %s: %v", e.n.Name, err)
		}
		a, _ := netlink.ParseAddr(e.addr)
		if err := e.n.Handle.AddrAdd(link, a); err != nil {
			t.Fatalf("address %s: %v", e.addr, err)
		}
	}
}

// pingResult is what pingN saw.
type pingResult struct {
	sent, received int
	rtts           []time.Duration
}

func (p pingResult) loss() float64 { return 1 - float64(p.received)/float64(p.sent) }

func (p pingResult) median() time.Duration {
	if len(p.rtts) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), p.rtts...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// pingN sends count ICMP echo requests with size bytes of payload from
// namespace n to dst, one every interval, and waits up to wait after the
// last for the replies.
func pingN(t *testing.T, n *nstest.NS, dst string, count int, interval time.Duration, size int, wait time.Duration) pingResult {
	t.Helper()
	var c *icmp.PacketConn
	err := n.Do(func() error {
		var err error
		c, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	})
	if err != nil {
		t.Fatalf("icmp socket: %v", err)
	}
	defer c.Close()
	id := rand.IntN(1 << 16)
	to := &net.IPAddr{IP: net.ParseIP(dst)}
	var mu sync.Mutex
	sentAt := make(map[int]time.Time, count)
	res := pingResult{sent: count}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			nr, from, err := c.ReadFrom(buf)
			now := time.Now()
			if err != nil {
				return // the deadline
			}
			m, err := icmp.ParseMessage(1, buf[:nr])
			if err != nil || m.Type != ipv4.ICMPTypeEchoReply || from.String() != dst {
				continue
			}
			e, ok := m.Body.(*icmp.Echo)
			if !ok || e.ID != id {
				continue
			}
			mu.Lock()
			if at, ok := sentAt[e.Seq]; ok {
				res.received++
				res.rtts = append(res.rtts, now.Sub(at))
				delete(sentAt, e.Seq)
			}
			mu.Unlock()
		}
	}()
	payload := bytes.Repeat([]byte{0xa5}, size)
	for seq := range count {
		msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: payload}}
		b, err := msg.Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		sentAt[seq] = time.Now()
		mu.Unlock()
		if _, err := c.WriteTo(b, to); err != nil {
			t.Fatalf("send echo %d: %v", seq, err)
		}
		time.Sleep(interval)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	<-done
	mu.Lock()
	defer mu.Unlock()
	return res
}

// transfer sends size random bytes by TCP from left to right and checks
// that the SHA-256 the receiver computed matches.
func transfer(t *testing.T, w *world, size int) time.Duration {
	t.Helper()
	var ln net.Listener
	err := w.right.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", rightAddr+":0")
		return err
	})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	deadline := time.Now().Add(30 * time.Second)
	srvErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(deadline)
		h := sha256.New()
		if _, err := io.Copy(h, c); err != nil {
			srvErr <- err
			return
		}
		_, err = c.Write(h.Sum(nil))
		srvErr <- err
	}()
	data := make([]byte, size)
	_, _ = crand.Read(data)
	want := sha256.Sum256(data)
	start := time.Now()
	var c net.Conn
	err = w.left.Do(func() error {
		var err error
		c, err = (&net.Dialer{Timeout: 5 * time.Second}).Dial("tcp4", ln.Addr().String())
		return err
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	if _, err := c.Write(data); err != nil {
		t.Fatalf("send %d bytes: %v", size, err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read checksum: %v", err)
	}
	if err := <-srvErr; err != nil {
		t.Fatalf("receiver: %v", err)
	}
	if !bytes.Equal(got, want[:]) {
		t.Fatalf("checksum of %d bytes: got %x, want %x", size, got, want)
	}
	return time.Since(start)
}

// links lists the links of a namespace other than lo.
func links(t *testing.T, n *nstest.NS) []string {
	t.Helper()
	ls, err := n.Handle.LinkList()
	if err != nil {
		t.Fatalf("links in %s: %v", n.Name, err)
	}
	var names []string
	for _, l := range ls {
		if l.Attrs().Name != "lo" {
			names = append(names, l.Attrs().Name)
		}
	}
	return names
}

// leftoverNamespaces lists namespaces of this package's tests still there.
func leftoverNamespaces() []string {
	es, _ := os.ReadDir("/var/run/netns")
	var names []string
	for _, e := range es {
		if strings.HasPrefix(e.Name(), nsPrefix+"-") {
			names = append(names, e.Name())
		}
	}
	return names
}
