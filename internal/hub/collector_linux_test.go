package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/tunnel"
)

// tapTunnels stands in for openvpn with real TAPs in a namespace: Start
// opens /dev/net/tun there and keeps the file, as openvpn does, so the
// test writes the peer's frames into the TAP.
type tapTunnels struct {
	ns   *nstest.NS
	mu   sync.Mutex
	taps map[string]*os.File
}

func (f *tapTunnels) Start(_ context.Context, s tunnel.Spec) error {
	var file *os.File
	err := f.ns.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open /dev/net/tun: %w", err)
		}
		req, err := unix.NewIfreq(s.Tap)
		if err != nil {
			unix.Close(fd)
			return err
		}
		req.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, req); err != nil {
			unix.Close(fd)
			return fmt.Errorf("make TAP %s: %w", s.Tap, err)
		}
		if err := unix.SetNonblock(fd, true); err != nil { // pollable: reads take a deadline
			unix.Close(fd)
			return err
		}
		file = os.NewFile(uintptr(fd), s.Tap)
		return nil
	})
	if err != nil {
		return err
	}
	l, err := f.ns.Handle.LinkByName(s.Tap)
	if err == nil {
		err = f.ns.Handle.LinkSetUp(l)
	}
	if err != nil {
		file.Close()
		return fmt.Errorf("bring %s up: %w", s.Tap, err)
	}
	f.mu.Lock()
	f.taps[s.Tap] = file
	f.mu.Unlock()
	return nil
}

func (f *tapTunnels) Reconfigure(context.Context, tunnel.Spec) error { return nil }

func (f *tapTunnels) Stop(_ context.Context, tap string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	file, ok := f.taps[tap]
	if !ok {
		return errors.New("not started")
	}
	delete(f.taps, tap)
	return file.Close() // a non-persistent TAP goes with its last file
}

func (f *tapTunnels) Status(tap string) (tunnel.Status, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.taps[tap]
	return tunnel.Status{Tap: tap, Running: ok, AdminUp: ok}, ok
}

// TestCollectorKernelCounters: with real TAPs in a real bridge, frames the
// peer sends (written into tap1, as openvpn does) show as tap1's received
// frames and bytes and move its peer's last-seen time; the bridge floods
// them out of tap2, whose sent counters grow; tap2's peer stays unheard.
func TestCollectorKernelCounters(t *testing.T) {
	ns := nstest.New(t, "hubm")
	tun := &tapTunnels{ns: ns, taps: map[string]*os.File{}}
	start := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	c := &clock{t: start}
	h := New(Options{Netlink: ns.Handle, Tunnels: tun, KeyDir: t.TempDir(), Now: c.now, Identity: testIdentity(t)})
	ctx := context.Background()
	if _, err := h.Start(ctx, staticServer(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	reg := prometheus.NewRegistry()
	reg.MustRegister(h.Collector())
	value := func(name, link string) float64 {
		t.Helper()
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() != name {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "link" && l.GetValue() == link {
						if m.GetCounter() != nil {
							return m.GetCounter().GetValue()
						}
						return m.GetGauge().GetValue()
					}
				}
			}
		}
		t.Fatalf("no %s{link=%q}", name, link)
		return 0
	}
	rx0, tx0 := value("multilink_hub_link_rx_frames_total", "tap1"), value("multilink_hub_link_tx_frames_total", "tap2")
	rxb0 := value("multilink_hub_link_rx_bytes_total", "tap1")
	if got := value("multilink_hub_link_up", "tap1"); got != 1 {
		t.Errorf("tap1 up %v, want 1", got)
	}

	// The peer sends 5 broadcast frames of 60 bytes on link 1.
	c.t = start.Add(time.Minute)
	frame := make([]byte, 60)
	copy(frame, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5})
	tun.mu.Lock()
	tap1 := tun.taps["tap1"]
	tun.mu.Unlock()
	for range 5 {
		if _, err := tap1.Write(frame); err != nil {
			t.Fatalf("write a frame into tap1: %v", err)
		}
	}
	// The kernel counts a TAP's received frame in the write itself.
	if d := value("multilink_hub_link_rx_frames_total", "tap1") - rx0; d != 5 {
		t.Errorf("tap1 received %v more frames, want 5", d)
	}
	if d := value("multilink_hub_link_rx_bytes_total", "tap1") - rxb0; d != 5*60 {
		t.Errorf("tap1 received %v more bytes, want %d", d, 5*60)
	}
	// The TAP counts a sent frame when its reader (openvpn) takes it:
	// read the flood out of tap2, bounded.
	tun.mu.Lock()
	tap2 := tun.taps["tap2"]
	tun.mu.Unlock()
	if err := tap2.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for got, reads := 0, 0; got < 5; reads++ {
		if reads > 100 {
			t.Fatalf("%d reads from tap2, %d of the test's frames among them", reads, got)
		}
		n, err := tap2.Read(buf)
		if err != nil {
			t.Fatalf("read tap2 (%d of the test's frames seen): %v", got, err)
		}
		if n >= 14 && buf[12] == 0x88 && buf[13] == 0xb5 {
			got++
		}
	}
	if d := value("multilink_hub_link_tx_frames_total", "tap2") - tx0; d < 5 {
		t.Errorf("tap2 sent %v more frames, want the 5 the bridge flooded", d)
	}
	if got, want := value("multilink_hub_link_peer_last_seen_timestamp_seconds", "tap1"), float64(c.t.Unix()); got != want {
		t.Errorf("tap1's peer last seen %v, want %v (the look after its frames)", got, want)
	}
	if got, want := value("multilink_hub_link_peer_last_seen_timestamp_seconds", "tap2"), float64(start.Unix()); got != want {
		t.Errorf("tap2's peer last seen %v, want the start %v (nothing received)", got, want)
	}
	// A minute later, nothing new: last seen stays.
	c.t = start.Add(2 * time.Minute)
	if got, want := value("multilink_hub_link_peer_last_seen_timestamp_seconds", "tap1"), float64(start.Add(time.Minute).Unix()); got != want {
		t.Errorf("tap1's peer last seen %v after a silent minute, want %v", got, want)
	}
}
