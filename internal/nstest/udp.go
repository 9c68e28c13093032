package nstest

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// UDPCount sends n numbered datagrams from namespace src to to (an
// address in dst), one every gap, calls before(i) ahead of datagram i
// (nil: none), and returns how many times dst received each number: 1
// everywhere is exact delivery, 2 a duplicate, 0 a loss. It reads until
// 300 ms after the last datagram; every datagram carries 64 bytes.
func UDPCount(t testing.TB, src, dst *NS, to netip.AddrPort, n int, gap time.Duration, before func(i int)) []int {
	t.Helper()
	var in, out *net.UDPConn
	err := dst.Do(func() (err error) {
		in, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(to))
		return err
	})
	if err != nil {
		t.Fatalf("listen on %s: %v", to, err)
	}
	defer in.Close()
	err = src.Do(func() (err error) {
		out, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(to))
		return err
	})
	if err != nil {
		t.Fatalf("dial %s: %v", to, err)
	}
	defer out.Close()

	got := make([]int, n)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 2048)
		for {
			k, err := in.Read(buf)
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					err = nil
				}
				done <- err
				return
			}
			if k < 8 {
				continue
			}
			if i := binary.BigEndian.Uint64(buf); i < uint64(n) {
				got[i]++
			}
		}
	}()
	msg := make([]byte, 64)
	for i := range n {
		if before != nil {
			before(i)
		}
		binary.BigEndian.PutUint64(msg, uint64(i))
		if _, err := out.Write(msg); err != nil {
			t.Logf("send datagram %d: %v", i, err) // a refused send is a loss, counted as such
		}
		time.Sleep(gap)
	}
	if err := in.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("receive on %s: %v", to, err)
	}
	return got
}

// Tally counts the entries of counts equal to 0, 1 and more than 1:
// datagrams lost, received once, received more than once.
func Tally(counts []int) (lost, once, more int) {
	for _, c := range counts {
		switch {
		case c == 0:
			lost++
		case c == 1:
			once++
		default:
			more++
		}
	}
	return lost, once, more
}
