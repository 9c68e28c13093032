package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/nstest"
	"github.com/multilink/multilink/tc"
	"github.com/multilink/multilink/tunnel"
)

// BenchmarkProbeCost measures what the probe's programs cost per packet in
// a tunnel's traffic: with the kernel's BPF statistics on, their run time
// per packet (run_time_ns / run_cnt) in iperf3 TCP traffic over one real
// OpenVPN TAP tunnel (gateway tap1 to the hub's bridge), beside an empty
// program attached the same way in the same traffic: the statistics' own
// cost, the floor the probe's cost is measured from; and beside the probe
// with every reply waking the daemon's ring reader (the baseline of the
// wake gaps). Last, the ARP path alone (no traffic): a probe and its reply.
// BenchmarkProbeThroughput measures the tunnel's throughput with and
// without the probe. docs/benchmarks.md has the figures:
//
//	go test -run '^$' -bench ProbeCost -benchtime 1x ./probe              # this host (TCX)
//	go run ./cmd/multilink-lab --packages ./probe --run '^$' --bench ProbeCost   # 6.1 legacy tc, 6.12
func BenchmarkProbeCost(b *testing.B) {
	w, cpus := iperfWorld(b)

	// Per-packet cost, statistics on: the probe and the empty program,
	// alternating, each program's totals summed over its rounds.
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	nstest.Require(b, err == nil, "kernel BPF run-time statistics: %v", err)
	defer stats.Close()
	// The probe twice: as it runs, and with every reply waking the
	// daemon's ring reader (before wake gaps: the baseline of that change).
	const costRounds = 3
	var probe, eager, floor [2]runCost // ingress, egress
	var attach string
	for range costRounds {
		e := attachEmpty(b, w)
		iperf(b, w, cpus)
		floor[0].add(b, e.in)
		floor[1].add(b, e.out)
		e.close(b)

		for _, c := range []*[2]runCost{&probe, &eager} {
			m := probeTap1(b, w, c == &eager)
			iperf(b, w, cpus)
			l := m.links["tap1"].obj
			c[0].add(b, l.ProbeIngress)
			c[1].add(b, l.ProbeEgress)
			attach = m.Links()[0].Attach
			m.Close()
		}
	}
	// The ARP path alone, no other traffic: what a probe (egress) and its
	// reply (ingress) cost, the reply woken each time and not.
	var arp, arpEager [2]runCost
	for _, c := range []*[2]runCost{&arp, &arpEager} {
		m := probeTap1(b, w, c == &arpEager)
		time.Sleep(3 * time.Second)
		l := m.links["tap1"].obj
		c[0].add(b, l.ProbeIngress)
		c[1].add(b, l.ProbeEgress)
		m.Close()
	}
	b.Logf("BENCH probe cost (%s, kernel %s): iperf3 over one tunnel with the kernel's BPF statistics on", attach, kernel(b))
	for i, dir := range []string{"ingress", "egress"} {
		b.Logf("BENCH probe cost %s: probe %.0f ns/packet, empty program %.0f ns/packet (the statistics' floor), probe above the floor %.0f ns, over %d and %d runs",
			dir, probe[i].per(), floor[i].per(), probe[i].per()-floor[i].per(), probe[i].runs, floor[i].runs)
		b.ReportMetric(probe[i].per()-floor[i].per(), "ns/pkt-net-"+dir)
		b.Logf("BENCH probe cost %s, every reply waking the reader (baseline): %.0f ns/packet, %.0f above the floor; probe/baseline above the floor %.2f",
			dir, eager[i].per(), eager[i].per()-floor[i].per(), (probe[i].per()-floor[i].per())/(eager[i].per()-floor[i].per()))
	}
	b.Logf("BENCH probe cost of the ARP path, no traffic: reply (ingress) %.0f ns, %.0f ns when every reply wakes the reader (ratio %.2f), over %d and %d runs; probe (egress) %.0f ns, %.0f ns",
		arp[0].per(), arpEager[0].per(), arp[0].per()/arpEager[0].per(), arp[0].runs, arpEager[0].runs, arp[1].per(), arpEager[1].per())
}

// iperfWorld is the tunnel world with tap1 addressed, its ends pinned and
// an iperf3 server on the hub's bridge, stopped when b ends.
func iperfWorld(b *testing.B) (*world, affinity) {
	b.Helper()
	nstest.RequireCommand(b, "iperf3")
	w := newWorld(b)
	addr(b, w, "10.8.0.253/24")
	cpus := pin(b, w)
	srv := w.hub.Command(context.Background(), "iperf3", append([]string{"-s", "-B", "10.8.0.254"}, cpus.server...)...)
	if err := srv.Start(); err != nil {
		b.Fatalf("iperf3 server: %v", err)
	}
	b.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	time.Sleep(500 * time.Millisecond)
	return w, cpus
}

// probeTap1 starts a Monitor probing tap1 as the active link (eager: every
// reply wakes its ring reader).
func probeTap1(b *testing.B, w *world, eager bool) *Monitor {
	b.Helper()
	m, err := NewMonitor(Options{NetNS: w.gw.Path(), eagerWake: eager})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Add(context.Background(), LinkSpec{Bond: "bond0", Link: "tap1", Target: hubIP, Active: true}); err != nil {
		m.Close()
		b.Fatal(err)
	}
	return m
}

// runCost sums a program's BPF statistics over its rounds.
type runCost struct {
	ns   time.Duration
	runs uint64
}

func (c *runCost) add(b *testing.B, p *ebpf.Program) {
	b.Helper()
	st, err := p.Stats()
	if err != nil {
		b.Fatal(err)
	}
	if st.RunCount == 0 {
		b.Fatal("a program never ran")
	}
	c.ns += st.Runtime
	c.runs += st.RunCount
}

func (c *runCost) per() float64 { return float64(c.ns.Nanoseconds()) / float64(c.runs) }

// emptyProgs are programs that do nothing (TC_ACT_UNSPEC: the frame goes
// on), attached to tap1 as the probe is.
type emptyProgs struct {
	in, out *ebpf.Program
	att     *tc.Attachment
}

func attachEmpty(b *testing.B, w *world) *emptyProgs {
	b.Helper()
	e := &emptyProgs{}
	for _, p := range []**ebpf.Program{&e.in, &e.out} {
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()}})
		if err != nil {
			b.Fatal(err)
		}
		*p = prog
	}
	tap, err := w.gw.Handle.LinkByName("tap1")
	if err != nil {
		b.Fatal(err)
	}
	err = w.gw.Do(func() error {
		var err error
		e.att, err = tc.Attach(w.gw.Handle, tap.Attrs().Index, []tc.Program{{Prog: e.in, Ingress: true}, {Prog: e.out}},
			tc.Options{Mode: tc.Auto, Name: "multilink_empty", First: true, Priority: filterPriority})
		return err
	})
	if err != nil {
		e.in.Close()
		e.out.Close()
		b.Fatal(err)
	}
	return e
}

func (e *emptyProgs) close(b *testing.B) {
	b.Helper()
	if err := e.att.Detach(); err != nil {
		b.Error(err)
	}
	e.in.Close()
	e.out.Close()
}

// pin keeps the sending side (the iperf3 client, -A 0, and the gateway's
// tap1 OpenVPN) on CPU 0 and the receiving side (the hub's tap1 OpenVPN
// and the iperf3 server, -A 1) on CPU 1: four busy processes on two CPUs
// left to the scheduler made the rounds' throughput vary by ±10 %.
// On one CPU nothing is pinned.
func pin(b *testing.B, w *world) affinity {
	b.Helper()
	if runtime.NumCPU() < 2 {
		b.Logf("one CPU: the tunnel's ends are not pinned")
		return affinity{}
	}
	for cpu, m := range []*tunnel.Manager{w.gm, w.hm} {
		st, ok := m.Status("tap1")
		if !ok || st.PID == 0 {
			b.Fatal("tap1's OpenVPN does not run")
		}
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(st.PID, &set); err != nil {
			b.Fatalf("pinning OpenVPN %d to CPU %d: %v", st.PID, cpu, err)
		}
	}
	return affinity{client: []string{"-A", "0"}, server: []string{"-A", "1"}}
}

// affinity is the iperf3 client's and server's CPU arguments.
type affinity struct{ client, server []string }

// iperf runs a 3 s TCP test (after 1 s of slow start it omits) from the
// gateway's tap1 address to the hub's bridge and returns the received rate
// in Mbit/s.
func iperf(b *testing.B, w *world, cpus affinity) float64 {
	b.Helper()
	args := append([]string{"-c", "10.8.0.254", "-B", "10.8.0.253", "-t", "3", "-O", "1", "-J"}, cpus.client...)
	out, err := w.gw.Command(context.Background(), "iperf3", args...).Output()
	if err != nil {
		b.Fatalf("iperf3: %v\n%s", err, out)
	}
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatalf("iperf3 output: %v", err)
	}
	return r.End.SumReceived.BitsPerSecond / 1e6
}

// addr gives the gateway's tap1 an address in the hub bridge's network.
func addr(b *testing.B, w *world, cidr string) {
	b.Helper()
	l, err := w.gw.Handle.LinkByName("tap1")
	if err != nil {
		b.Fatal(err)
	}
	a, _ := netlink.ParseAddr(cidr)
	if err := w.gw.Handle.AddrAdd(l, a); err != nil {
		b.Fatal(err)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// medianCI is a distribution-free 95 % confidence interval of v's median:
// the order statistics x(k) and x(n+1-k), k the largest with
// P(Binomial(n, 1/2) < k) <= 2.5 %. Up to 6 values give their range.
func medianCI(v []float64) (lo, hi float64) {
	q := slices.Sorted(slices.Values(v))
	n := len(q)
	k, p, below := 0, math.Pow(0.5, float64(n)), 0.0 // p: P(Bin = k)
	for below+p <= 0.025 {
		below += p
		k++
		p *= float64(n-k+1) / float64(k)
	}
	// P(Bin < k) <= 2.5 %: x(k) (1-based) is q[k-1].
	if k == 0 {
		return q[0], q[n-1]
	}
	return q[k-1], q[n-k]
}

func quartiles(v []float64) string {
	q := slices.Sorted(slices.Values(v))
	return fmt.Sprintf("%.3f .. %.3f", q[len(q)/4], q[3*len(q)/4])
}

func kernel(b *testing.B) string {
	var u unix.Utsname
	_ = unix.Uname(&u)
	return unix.ByteSliceToString(u.Release[:])
}

// TestMedianCI checks medianCI against the published order statistics of
// the median's 95 % interval (n = 15: x(4) .. x(12); n = 30: x(10) .. x(21)).
func TestMedianCI(t *testing.T) {
	for _, c := range []struct{ n, lo, hi int }{{5, 1, 5}, {6, 1, 6}, {15, 4, 12}, {30, 10, 21}, {40, 14, 27}} {
		v := make([]float64, c.n)
		for i := range v {
			v[i] = float64(c.n - i) // reversed: medianCI sorts
		}
		lo, hi := medianCI(v)
		if int(lo) != c.lo || int(hi) != c.hi {
			t.Errorf("n=%d: x(%v) .. x(%v), want x(%d) .. x(%d)", c.n, lo, hi, c.lo, c.hi)
		}
	}
}
