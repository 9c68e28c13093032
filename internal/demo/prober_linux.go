package demo

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/multilink/multilink/internal/nsthread"
)

// Prober sends an ICMP echo request every interval from inside a network
// namespace and records when each reply arrives: the traffic whose gaps
// are the blackouts the demo and the benchmarks report.
type Prober struct {
	conn     *icmp.PacketConn
	dst      *net.IPAddr
	interval time.Duration
	id       int

	mu      sync.Mutex
	replies []time.Time
	sent    []time.Time // by sequence number
	got     []bool      // by sequence number: answered
}

// NewProber opens an ICMP socket in ns (not open: the caller's).
func NewProber(ns netns.NsHandle, dst netip.Addr, interval time.Duration) (*Prober, error) {
	var conn *icmp.PacketConn
	err := nsthread.In(ns, func() error {
		var err error
		conn, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open icmp socket: %w", err)
	}
	return &Prober{conn: conn, dst: &net.IPAddr{IP: dst.AsSlice()}, interval: interval, id: os.Getpid() & 0xffff}, nil
}

// Run probes until ctx ends, then closes the socket.
func (p *Prober) Run(ctx context.Context) {
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

func (p *Prober) receive() {
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

// GapAround returns the longest time without replies between from and to:
// the blackout of an event inside that window.
func (p *Prober) GapAround(from, to time.Time) time.Duration {
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

// Lost counts the requests sent between from and to that got no reply
// (ask once the replies had time to arrive).
func (p *Prober) Lost(from, to time.Time) (lost, sent int) {
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

// Unanswered returns when each request sent between from and to that got
// no reply was sent (ask once the replies had time to arrive).
func (p *Prober) Unanswered(from, to time.Time) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []time.Time
	for i, at := range p.sent {
		if !at.Before(from) && !at.After(to) && !p.got[i] {
			out = append(out, at)
		}
	}
	return out
}

// LastReply returns when the latest reply arrived.
func (p *Prober) LastReply() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.replies) == 0 {
		return time.Time{}
	}
	return p.replies[len(p.replies)-1]
}

// FirstAfter returns when the first reply after t arrived (zero: none yet).
func (p *Prober) FirstAfter(t time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.replies {
		if r.After(t) {
			return r
		}
	}
	return time.Time{}
}

// Flowing reports whether replies arrived within the last few intervals
// and after since.
func (p *Prober) Flowing(since time.Time) bool {
	last := p.LastReply()
	return last.After(since) && time.Since(last) < 5*p.interval
}
