package probe

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"net"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/bpf"
	"github.com/multilink/multilink/internal/nstest"
)

// testIfindex is the device BPF_PROG_TEST_RUN runs skb programs on: lo.
const testIfindex = 1

var (
	testTarget = [4]byte{10, 8, 0, 254}
	hubMAC     = net.HardwareAddr{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}
	bondMAC    = net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
)

// testProbe is the shared maps and one link's programs.
type testProbe struct {
	*objects
	*linkObjects
}

// loadTestB is loadTest for benchmarks.
func loadTestB(b *testing.B) (testProbe, net.HardwareAddr) {
	b.Helper()
	return loadTestTB(b, false)
}

// loadTest loads the programs with a config and zeroed stats for lo.
func loadTest(t *testing.T, noRingbuf bool) (testProbe, net.HardwareAddr) {
	t.Helper()
	return loadTestTB(t, noRingbuf)
}

func loadTestTB(t testing.TB, noRingbuf bool) (testProbe, net.HardwareAddr) {
	t.Helper()
	return loadTestOpts(t, loadOptions{noRingbuf: noRingbuf})
}

func loadTestOpts(t testing.TB, opts loadOptions) (testProbe, net.HardwareAddr) {
	t.Helper()
	nstest.RequireAdmin(t)
	o, err := loadObjects(opts)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { o.Close() })
	base, err := NewProbeMAC()
	if err != nil {
		t.Fatal(err)
	}
	l := addTestLink(t, o, testIfindex, base)
	return testProbe{o, l}, base
}

// addTestLink adds a link with base as its probe MAC and the test target.
func addTestLink(t testing.TB, o *objects, ifindex uint32, base net.HardwareAddr) *linkObjects {
	t.Helper()
	cfg := bpf.ProbeLinkConfig{Target: binary.NativeEndian.Uint32(testTarget[:])}
	copy(cfg.ProbeMac[:], base)
	l, err := o.addLink("", ifindex, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.removeLink(l) })
	return l
}

// counters reads the link's counters as the Monitor does (per-CPU summed).
func counters(t *testing.T, o testProbe) kernelView {
	t.Helper()
	kv, err := o.readLink(o.linkObjects)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// arpStats reads the link's ARP statistics.
func arpStats(t *testing.T, o testProbe) bpf.ProbeLinkStats {
	t.Helper()
	var st bpf.ProbeLinkStats
	if err := o.Stats.Lookup(o.idx, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// run runs prog on frame and checks it lets the frame pass unchanged.
func run(t *testing.T, prog *ebpf.Program, frame []byte) {
	t.Helper()
	out := make([]byte, len(frame)+256)
	ret, err := prog.Run(&ebpf.RunOptions{Data: frame, DataOut: out})
	if err != nil {
		t.Fatalf("test run: %v", err)
	}
	if int32(ret) != -1 { // TC_ACT_UNSPEC: no verdict, the frame goes on
		t.Errorf("verdict %d, want -1 (TC_ACT_UNSPEC)", int32(ret))
	}
	if string(out[:len(frame)]) != string(frame) {
		t.Error("the program changed the frame")
	}
}

// arpFrame builds an Ethernet ARP frame.
func arpFrame(op uint16, sha net.HardwareAddr, spa [4]byte, tha net.HardwareAddr, tpa [4]byte) []byte {
	dst := broadcast
	if op == 2 {
		dst = tha
	}
	b := make([]byte, 0, 60)
	b = append(b, dst...)
	b = append(b, sha...)
	b = append(b, 0x08, 0x06, 0, 1, 8, 0, 6, 4, byte(op>>8), byte(op))
	b = append(b, sha...)
	b = append(b, spa[:]...)
	b = append(b, tha...)
	b = append(b, tpa[:]...)
	return b
}

func ipv4Frame(size int) []byte {
	b := make([]byte, size)
	copy(b, hubMAC)
	copy(b[6:], bondMAC)
	b[12], b[13] = 0x08, 0x00
	b[14] = 0x45
	return b
}

func TestProgramsCountFrames(t *testing.T) {
	o, base := loadTest(t, false)
	bondIP := [4]byte{10, 8, 0, 253}
	other := [4]byte{10, 8, 0, 1}
	noMAC := net.HardwareAddr{0, 0, 0, 0, 0, 0}
	vlan := append(append(append([]byte{}, broadcast...), bondMAC...), 0x81, 0x00, 0x00, 0x05, 0x08, 0x06)
	vlan = append(vlan, arpFrame(1, bondMAC, bondIP, noMAC, testTarget)[14:]...)
	badArp := arpFrame(1, bondMAC, bondIP, noMAC, testTarget)
	badArp[19] = 16 // plen 16: not IPv4

	egress := []struct {
		name  string
		frame []byte
	}{
		{"probe slot 3", probeFrame(broadcast, base, 3, mustAddr(t, "10.8.0.254"))},
		{"bond's own ARP request", arpFrame(1, bondMAC, bondIP, noMAC, testTarget)},
		{"request for another address", arpFrame(1, bondMAC, bondIP, noMAC, other)},
		{"probe for another address", probeFrame(broadcast, base, 4, mustAddr(t, "10.8.0.1"))},
		{"truncated ARP", arpFrame(1, bondMAC, bondIP, noMAC, testTarget)[:30]},
		{"runt: Ethernet header only", arpFrame(1, bondMAC, bondIP, noMAC, testTarget)[:14]},
		{"ARP of 16-byte addresses", badArp},
		{"VLAN-tagged ARP", vlan},
		{"IPv6", append(append(append([]byte{}, hubMAC...), bondMAC...), append([]byte{0x86, 0xdd}, make([]byte, 40)...)...)},
		{"IPv4 3000 bytes (jumbo)", ipv4Frame(3000)},
	}
	var bytes uint64
	for _, f := range egress {
		run(t, o.ProbeEgress, f.frame)
		bytes += uint64(len(f.frame))
	}
	st := counters(t, o)
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"tx_frames", st.TxFrames, uint64(len(egress))},
		{"tx_bytes", st.TxBytes, bytes},
		{"arp_requests (probe + bond's, to the target)", st.ArpRequests, 2},
		{"probes_sent", st.ProbesSent, 1},
		{"malformed (truncated, runt, plen 16)", st.Malformed, 3},
		{"vlan", st.VLAN, 1},
		{"rx_frames", st.RxFrames, 0},
		{"probe_replies", st.ProbeReplies, 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	for i, ts := range st.slotSent {
		if (i == 3) != (ts != 0) {
			t.Errorf("slot %d sent at %d; only slot 3 should be in flight", i, ts)
		}
	}
}

func TestProgramsMeasureRTT(t *testing.T) {
	o, base := loadTest(t, false)
	rd, err := ringbuf.NewReader(o.Events)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()

	// A probe in slot 3 left 5 ms ago (set its departure in the map).
	st := arpStats(t, o)
	before := time.Now()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	sent := uint64(ts.Nano()) - uint64(5*time.Millisecond)
	st.SlotSentNs[3] = sent
	if err := o.Stats.Put(o.idx, st); err != nil {
		t.Fatal(err)
	}
	zero := [4]byte{}
	// Replies that must not count as ours, then ours, then its duplicate.
	run(t, o.ProbeIngress, arpFrame(2, hubMAC, [4]byte{10, 8, 0, 1}, slotMAC(base, 3), zero))      // not the target
	run(t, o.ProbeIngress, arpFrame(2, hubMAC, testTarget, bondMAC, [4]byte{10, 8, 0, 253}))       // the bond's reply
	run(t, o.ProbeIngress, arpFrame(2, hubMAC, testTarget, slotMAC(base, 4), zero))                // slot 4: none in flight
	run(t, o.ProbeIngress, arpFrame(1, hubMAC, testTarget, make(net.HardwareAddr, 6), testTarget)) // a request, not a reply
	run(t, o.ProbeIngress, arpFrame(2, hubMAC, testTarget, slotMAC(base, 3), zero))                // ours
	run(t, o.ProbeIngress, arpFrame(2, hubMAC, testTarget, slotMAC(base, 3), zero))                // duplicate
	elapsed := time.Since(before)

	st = arpStats(t, o)
	kv := counters(t, o)
	if kv.RxFrames != 6 || st.ArpReplies != 4 || st.ProbeReplies != 1 {
		t.Errorf("rx_frames %d arp_replies %d probe_replies %d, want 6 4 1", kv.RxFrames, st.ArpReplies, st.ProbeReplies)
	}
	rtt := time.Duration(st.RttLastNs)
	if rtt < 5*time.Millisecond || rtt > 5*time.Millisecond+elapsed {
		t.Errorf("rtt %v, want 5 ms + at most %v", rtt, elapsed)
	}
	if st.RttSumNs != st.RttLastNs {
		t.Errorf("rtt sum %d, want %d", st.RttSumNs, st.RttLastNs)
	}
	// Bucket b > 0 holds [2^(b-1), 2^b) us: 5 ms is bucket 13 (a slow VM
	// may add a few ms, so the bucket of the RTT measured).
	want := bits.Len64(st.RttLastNs / 1000)
	for b, n := range st.RttHist {
		if w := uint64(b2u(b == want)); n != w {
			t.Errorf("rtt %v: bucket %d = %d, want %d", rtt, b, n, w)
		}
	}
	if st.SlotSentNs[3] != 0 {
		t.Error("slot 3 still in flight after its reply")
	}
	// The last frame's time is the coarse clock's: up to a tick (10 ms at
	// HZ 100) behind the precise one.
	if net.HardwareAddr(st.PeerMac[:]).String() != hubMAC.String() || st.LastReplyNs == 0 || kv.lastRxNs+uint64(10*time.Millisecond) < st.LastReplyNs {
		t.Errorf("peer mac %x last reply %d last rx %d", st.PeerMac, st.LastReplyNs, kv.lastRxNs)
	}

	rd.SetDeadline(time.Now().Add(time.Second))
	rec, err := rd.Read()
	if err != nil {
		t.Fatalf("ring buffer: %v", err)
	}
	var ev bpf.ProbeEvent
	if _, err := binary.Decode(rec.RawSample, binary.NativeEndian, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Ifindex != testIfindex || ev.Slot != 3 || ev.RttNs != st.RttLastNs {
		t.Errorf("event %+v", ev)
	}
	rd.SetDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := rd.Read(); err == nil {
		t.Error("a second event for one reply")
	}
}

// TestProgramsWithoutRingbuf: the pre-5.8 build loads and still measures.
func TestProgramsWithoutRingbuf(t *testing.T) {
	o, base := loadTest(t, true)
	if o.ringbuf {
		t.Fatal("ring buffer in use although disabled")
	}
	run(t, o.ProbeEgress, probeFrame(broadcast, base, 7, mustAddr(t, "10.8.0.254")))
	run(t, o.ProbeIngress, arpFrame(2, hubMAC, testTarget, slotMAC(base, 7), [4]byte{}))
	st := arpStats(t, o)
	if st.ProbesSent != 1 || st.ProbeReplies != 1 || st.RttLastNs == 0 {
		t.Errorf("probes %d replies %d rtt %d", st.ProbesSent, st.ProbeReplies, st.RttLastNs)
	}
}

// TestProgramsCountTheirLinkOnly: each link's programs count into its own
// entries only; a removed link's index is found no more by its ifindex,
// and the next link that takes the index starts from zero.
func TestProgramsCountTheirLinkOnly(t *testing.T) {
	o, base := loadTest(t, false)
	other := addTestLink(t, o.objects, 2, base)
	if other.idx == o.idx {
		t.Fatalf("two links share index %d", o.idx)
	}
	run(t, o.ProbeEgress, probeFrame(broadcast, base, 1, mustAddr(t, "10.8.0.254")))
	run(t, o.ProbeIngress, arpFrame(2, hubMAC, testTarget, slotMAC(base, 1), [4]byte{}))
	if st := arpStats(t, o); st.ProbesSent != 1 || st.ProbeReplies != 1 {
		t.Fatalf("link: probes %d replies %d, want 1 1", st.ProbesSent, st.ProbeReplies)
	}
	peer := testProbe{o.objects, other}
	if kv := counters(t, peer); kv.RxFrames != 0 || kv.TxFrames != 0 || kv.ProbesSent != 0 {
		t.Errorf("the other link counted another link's frames: %+v", kv.LinkCounters)
	}
	var idx uint32
	if err := o.Links.Lookup(uint32(testIfindex), &idx); err != nil || idx != o.idx {
		t.Errorf("links[%d] = %d (%v), want %d", testIfindex, idx, err, o.idx)
	}

	// The link goes; a new one takes its index and starts from zero.
	if err := o.removeLink(o.linkObjects); err != nil {
		t.Fatal(err)
	}
	if err := o.Links.Lookup(uint32(testIfindex), &idx); !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Errorf("a removed link is still in links (%v)", err)
	}
	again := testProbe{o.objects, addTestLink(t, o.objects, 3, base)}
	if again.idx != o.idx {
		t.Fatalf("new link took index %d, want the freed %d", again.idx, o.idx)
	}
	if kv := counters(t, again); kv.RxFrames != 0 || kv.TxFrames != 0 || kv.ProbeReplies != 0 || kv.lastReplyNs != 0 {
		t.Errorf("a reused index kept the old link's counters: %+v", kv)
	}
}

func b2u(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestProgramsWakeOnlyForNews: with a wake gap, a reply within the gap of
// the link's previous one goes into the ring without waking its reader;
// the first reply, one after the gap, and any reply with no gap (0) wake
// it. A reader blocked in epoll sees exactly the wake-ups.
func TestProgramsWakeOnlyForNews(t *testing.T) {
	o, base := loadTest(t, false)
	if !o.ringbuf {
		t.Skip("no ring buffer (before 5.8): nothing to wake")
	}
	rd, err := ringbuf.NewReader(o.Events)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ep)
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, o.Events.FD(), &unix.EpollEvent{Events: unix.EPOLLIN}); err != nil {
		t.Fatal(err)
	}
	woken := func() bool {
		evs := make([]unix.EpollEvent, 1)
		n, err := unix.EpollWait(ep, evs, 0)
		if err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	setGap := func(gap time.Duration) {
		cfg := bpf.ProbeLinkConfig{Target: binary.NativeEndian.Uint32(testTarget[:]), WakeGapNs: uint64(gap)}
		copy(cfg.ProbeMac[:], base)
		if err := o.configure(o.linkObjects, cfg); err != nil {
			t.Fatal(err)
		}
	}
	// reply answers a probe in slot that left 1 ms ago, reads its one
	// event and reports whether the reader was woken.
	reply := func(slot int) bool {
		t.Helper()
		st := arpStats(t, o)
		st.SlotSentNs[slot] = monotonic() - uint64(time.Millisecond)
		if err := o.Stats.Put(o.idx, st); err != nil {
			t.Fatal(err)
		}
		run(t, o.ProbeIngress, arpFrame(2, hubMAC, testTarget, slotMAC(base, slot), [4]byte{}))
		w := woken()
		rd.SetDeadline(time.Now().Add(time.Second))
		rec, err := rd.Read()
		if err != nil {
			t.Fatalf("slot %d: no event in the ring: %v", slot, err)
		}
		var ev bpf.ProbeEvent
		if _, err := binary.Decode(rec.RawSample, binary.NativeEndian, &ev); err != nil || ev.Slot != uint32(slot) {
			t.Fatalf("slot %d: event %+v (%v)", slot, ev, err)
		}
		if woken() {
			t.Fatal("the reader is still signalled with the ring empty")
		}
		return w
	}

	setGap(time.Minute)
	if !reply(0) {
		t.Error("the link's first reply did not wake the reader")
	}
	if reply(1) {
		t.Error("a reply within the wake gap woke the reader")
	}
	setGap(time.Microsecond)
	time.Sleep(time.Millisecond)
	if !reply(2) {
		t.Error("a reply after the wake gap did not wake the reader")
	}
	setGap(0)
	if !reply(3) {
		t.Error("a reply with no wake gap did not wake the reader")
	}
}
