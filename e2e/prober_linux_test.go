package e2e

import (
	"context"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/multilink/multilink/nstest"
)

// prober sends an ICMP echo request every interval from inside ns and
// records when each reply arrives: the probe stream the blackout figures
// are measured with.
type prober struct {
	conn     *icmp.PacketConn
	dst      *net.IPAddr
	interval time.Duration
	id       int

	mu      sync.Mutex
	replies []time.Time
	sent    []time.Time // by sequence number
	got     []bool      // by sequence number: answered
}

func newProber(ns *nstest.NS, dst string, interval time.Duration) (*prober, error) {
	var conn *icmp.PacketConn
	err := ns.Do(func() error {
		var err error
		conn, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	})
	if err != nil {
		return nil, err
	}
	return &prober{conn: conn, dst: &net.IPAddr{IP: net.ParseIP(dst)}, interval: interval, id: os.Getpid() & 0xffff}, nil
}

// run probes until ctx ends.
func (p *prober) run(ctx context.Context) {
	go p.receive()
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for seq := 0; ; seq++ {
		msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: p.id, Seq: seq & 0xffff, Data: []byte("multilink-probe")}}
		b, _ := msg.Marshal(nil)
		p.mu.Lock()
		p.sent = append(p.sent, time.Now())
		p.got = append(p.got, false)
		p.mu.Unlock()
		_, _ = p.conn.WriteTo(b, p.dst)
		select {
		case <-ctx.Done():
			p.conn.Close()
			return
		case <-t.C:
		}
	}
}

func (p *prober) receive() {
	buf := make([]byte, 1500)
	for {
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		now := time.Now()
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
			continue
		}
		e, ok := m.Body.(*icmp.Echo)
		if !ok || e.ID != p.id {
			continue
		}
		p.mu.Lock()
		p.replies = append(p.replies, now)
		// Sequence numbers wrap at 65536: the latest unanswered one that matches.
		for i := len(p.got) - 1; i >= 0 && i >= len(p.got)-65536; i-- {
			if i&0xffff == e.Seq && !p.got[i] {
				p.got[i] = true
				break
			}
		}
		p.mu.Unlock()
	}
}

// gapAround returns the longest time without replies between from and to:
// the blackout of an event inside that window.
func (p *prober) gapAround(from, to time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var gap time.Duration
	last := time.Time{}
	for _, r := range p.replies {
		if r.Before(from) {
			last = r
			continue
		}
		if r.After(to) {
			break
		}
		if !last.IsZero() && r.Sub(last) > gap {
			gap = r.Sub(last)
		}
		last = r
	}
	return gap
}

// lost counts the requests sent between from and to that got no reply
// (call it once the replies had time to arrive).
func (p *prober) lost(from, to time.Time) (lost, sent int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, at := range p.sent {
		if at.Before(from) || at.After(to) {
			continue
		}
		sent++
		if !p.got[i] {
			lost++
		}
	}
	return lost, sent
}

// lastReply returns when the latest reply arrived.
func (p *prober) lastReply() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.replies) == 0 {
		return time.Time{}
	}
	return p.replies[len(p.replies)-1]
}
