package dedup

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/multilink/multilink/internal/nstest"
)

const (
	actUnspec = ^uint32(0) // TC_ACT_UNSPEC (-1): passed on
	actShot   = 2          // TC_ACT_SHOT: dropped
)

var (
	macA = [6]byte{0x02, 0, 0, 0, 0, 0xa}
	macB = [6]byte{0x02, 0, 0, 0, 0, 0xb}
)

// ether is an Ethernet frame from src carrying payload of ethertype typ.
func ether(src [6]byte, typ uint16, payload []byte) []byte {
	f := append([]byte{0x02, 0, 0, 0, 0, 1}, src[:]...)
	f = binary.BigEndian.AppendUint16(f, typ)
	return append(f, payload...)
}

// echo is an IPv4 ICMP echo request from src with IP id and ICMP seq,
// its payload pad bytes of 0x5a (equal in every frame).
func echo(src [6]byte, id, seq uint16, pad int) []byte {
	ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 1, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+pad))
	binary.BigEndian.PutUint16(ip[4:], id)
	icmp := []byte{8, 0, 0, 0, 0x12, 0x34, 0, 0}
	binary.BigEndian.PutUint16(icmp[6:], seq)
	p := append(ip, icmp...)
	for range pad {
		p = append(p, 0x5a)
	}
	return ether(src, 0x0800, p)
}

// ipv6UDP is an IPv6 UDP datagram with payload.
func ipv6UDP(src [6]byte, payload []byte) []byte {
	ip := make([]byte, 40)
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(8+len(payload)))
	ip[6], ip[7] = 17, 64
	copy(ip[8:], []byte{0x20, 0x01, 0x0d, 0xb8, 15: 1})
	copy(ip[24:], []byte{0x20, 0x01, 0x0d, 0xb8, 15: 2})
	udp := []byte{0x13, 0x89, 0x13, 0x89, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	return ether(src, 0x86dd, append(append(ip, udp...), payload...))
}

// arpRequest is an ARP request from src.
func arpRequest(src [6]byte) []byte {
	a := []byte{0, 1, 8, 0, 6, 4, 0, 1}
	a = append(a, src[:]...)
	a = append(a, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2)
	f := ether(src, 0x0806, a)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return f
}

func newTestFilter(t *testing.T, window time.Duration) *Filter {
	t.Helper()
	nstest.RequireAdmin(t)
	f, err := New(nil, 0, Options{Window: window})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func run(t *testing.T, f *Filter, frame []byte) uint32 {
	t.Helper()
	ret, err := f.obj.Dedup.Run(&ebpf.RunOptions{Data: frame})
	if err != nil {
		t.Fatal(err)
	}
	return ret
}

// TestDedupDecides, on one device (BPF_PROG_RUN runs every frame as
// arriving on lo): the same frame again is a repeat its sender made, not a
// copy (copies cross the other link: TestDedupHub drops them), and is
// passed; frames that differ in their IP id, ICMP sequence, length, source
// MAC or IPv6 payload are new; non-IP frames are never looked at.
func TestDedupDecides(t *testing.T) {
	f := newTestFilter(t, 10*time.Second)
	cases := []struct {
		name  string
		frame []byte
	}{
		{"first", echo(macA, 1, 1, 56)},
		{"repeated on the same link", echo(macA, 1, 1, 56)},
		{"another IP id", echo(macA, 2, 1, 56)},
		{"another ICMP seq", echo(macA, 1, 2, 56)},
		{"one byte longer", echo(macA, 1, 1, 57)},
		{"from another gateway", echo(macB, 1, 1, 56)},
		{"ARP", arpRequest(macA)},
		{"ARP again", arpRequest(macA)},
		{"IPv6", ipv6UDP(macA, []byte("seq 0001 payload"))},
		{"IPv6 another payload", ipv6UDP(macA, []byte("seq 0002 payload"))},
		{"IPv6 repeated", ipv6UDP(macA, []byte("seq 0001 payload"))},
	}
	for _, c := range cases {
		if got := run(t, f, c.frame); got != actUnspec {
			t.Errorf("%s: %#x, want passed", c.name, got)
		}
	}
	s, err := f.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Nine IP frames, two of them repeats (same hash, same device).
	if want := (Stats{Seen: 9, Stale: 2}); s != want {
		t.Errorf("stats %+v, want %+v", s, want)
	}
}

// TestDedupWindow: a frame seen again after the window passes, and
// counts as stale.
func TestDedupWindow(t *testing.T) {
	f := newTestFilter(t, 20*time.Millisecond)
	frame := echo(macA, 3, 3, 56)
	for i := range 3 {
		if got := run(t, f, frame); got != actUnspec {
			t.Errorf("run %d, each more than the window after the last: %#x, want passed", i, got)
		}
		time.Sleep(60 * time.Millisecond)
	}
	s, err := f.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{Seen: 3, Stale: 2}); s != want {
		t.Errorf("stats %+v, want %+v", s, want)
	}
}

func TestNewRefuses(t *testing.T) {
	if _, err := New(nil, 0, Options{Window: -time.Second}); err == nil {
		t.Error("a negative window was taken")
	}
	if _, err := New(nil, 0, Options{Slots: 1000}); err == nil {
		t.Error("1000 slots were taken")
	}
	if _, err := New(nil, 0, Options{Attach: "xdp"}); err == nil {
		t.Error("attach mode xdp was taken")
	}
}
