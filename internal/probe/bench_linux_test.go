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

	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/tcattach"
	"github.com/multilink/multilink/internal/tunnel"
)

// BenchmarkProbeCost measures what the probe's programs cost per packet in
// a tunnel's traffic: with the kernel's BPF statistics on, their run time
// per packet (run_time_ns / run_cnt) in iperf3 TCP traffic over one real
// OpenVPN TAP tunnel (gateway tap1 to the hub's bridge), beside an empty
// program attached the same way in the same traffic: the statistics' own
// cost, the floor the probe's cost is measured from; beside the probe
// with every reply waking the daemon's ring reader (the baseline of the
// wake gaps); and beside the probe sending one probe a second, so that
// nearly every run is a data frame or an ACK (at 20 ms the probe's own
// ARP requests, about 3 % of egress runs, cost 2 µs each, cold, and
// weigh in the egress average). Last, the ARP path alone (no traffic): a
// probe and its reply.
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
	var probe, eager, sparse, floor dirCost
	var attach string
	for range costRounds {
		e := attachEmpty(b, w)
		floor.proc.during(b, func() { iperf(b, w, cpus) })
		floor.dir[0].addProg(b, e.in)
		floor.dir[1].addProg(b, e.out)
		e.close(b)

		for _, arm := range []struct {
			c    *dirCost
			opts Options
		}{{&probe, Options{}}, {&eager, Options{eagerWake: true}}, {&sparse, Options{Interval: sparseEvery}}} {
			m := probeTap1(b, w, arm.opts)
			arm.c.proc.during(b, func() { iperf(b, w, cpus) })
			arm.c.add(b, m)
			attach = m.Links()[0].Attach
			m.Close()
		}
	}
	// The ARP path alone, no other traffic: what a probe (egress) and its
	// reply (ingress) cost, the reply woken each time and not.
	var arp, arpEager dirCost
	for _, c := range []*dirCost{&arp, &arpEager} {
		m := probeTap1(b, w, Options{eagerWake: c == &arpEager})
		c.proc.during(b, func() { time.Sleep(3 * time.Second) })
		c.add(b, m)
		m.Close()
	}
	b.Logf("BENCH probe cost (%s, kernel %s): iperf3 over one tunnel with the kernel's BPF statistics on", attach, kernel(b))
	for i, dir := range []string{"ingress", "egress"} {
		b.Logf("BENCH probe cost %s: probe %.0f ns/packet, empty program %.0f ns/packet (the statistics' floor), probe above the floor %.0f ns, over %d and %d runs",
			dir, probe.dir[i].per(), floor.dir[i].per(), probe.dir[i].per()-floor.dir[i].per(), probe.dir[i].runs, floor.dir[i].runs)
		b.ReportMetric(probe.dir[i].per()-floor.dir[i].per(), "ns/pkt-net-"+dir)
		b.Logf("BENCH probe cost %s, every reply waking the reader (baseline): %.0f ns/packet, %.0f above the floor; probe/baseline above the floor %.2f",
			dir, eager.dir[i].per(), eager.dir[i].per()-floor.dir[i].per(), (probe.dir[i].per()-floor.dir[i].per())/(eager.dir[i].per()-floor.dir[i].per()))
		b.Logf("BENCH probe cost %s, data frames (one probe a second, %.2f%% of the runs ARP): %.0f ns/packet, %.0f above the floor; at 20 ms %.2f%% of the runs were ARP",
			dir, sparse.dir[i].arpShare(), sparse.dir[i].per(), sparse.dir[i].per()-floor.dir[i].per(), probe.dir[i].arpShare())
		b.ReportMetric(sparse.dir[i].per()-floor.dir[i].per(), "ns/pkt-data-net-"+dir)
	}
	b.Logf("BENCH probe cost in the daemon's process (user and system CPU time of this test process, its children not counted): probing tap1 at 20 ms %.2f%% of one CPU with no traffic (%.2f%% every reply waking the reader), %.2f%% in the iperf3 traffic (%.2f%% at one probe a second); %.2f%% with no probe",
		arp.proc.percent(), arpEager.proc.percent(), probe.proc.percent(), sparse.proc.percent(), floor.proc.percent())
	b.ReportMetric(arp.proc.percent(), "%cpu-daemon-idle")
	b.Logf("BENCH probe cost of the ARP path, no traffic: reply (ingress) %.0f ns, %.0f ns when every reply wakes the reader (ratio %.2f), over %d and %d runs (%.0f%% ARP); probe (egress) %.0f ns, %.0f ns (%.0f%% ARP)",
		arp.dir[0].per(), arpEager.dir[0].per(), arp.dir[0].per()/arpEager.dir[0].per(), arp.dir[0].runs, arpEager.dir[0].runs, arp.dir[0].arpShare(), arp.dir[1].per(), arpEager.dir[1].per(), arp.dir[1].arpShare())
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

// probeTap1 starts a Monitor with opts probing tap1, in w's gateway, as
// the active link.
func probeTap1(b *testing.B, w *world, opts Options) *Monitor {
	b.Helper()
	opts.NetNS = w.gw.Path()
	m, err := NewMonitor(opts)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Add(context.Background(), LinkSpec{Bond: "bond0", Link: "tap1", Target: hubIP, Active: true}); err != nil {
		m.Close()
		b.Fatal(err)
	}
	return m
}

// sparseEvery is the probe interval of the benches' sparse arms: one
// probe a second.
const sparseEvery = time.Second

// runCost sums a program's BPF statistics over its rounds, and the ARP
// frames (requests on egress, replies on ingress) among its runs.
type runCost struct {
	ns        time.Duration
	runs, arp uint64
}

// dirCost is a program pair's cost, ingress and egress, and the CPU time
// of the process that runs the probe's daemon side (this one).
type dirCost struct {
	dir  [2]runCost
	proc procCPU
}

// procCPU sums this process's CPU time (user and system, threads all,
// children not) and the wall time it was measured over.
type procCPU struct{ cpu, wall time.Duration }

// during adds the CPU and wall time f takes.
func (p *procCPU) during(b *testing.B, f func()) {
	b.Helper()
	c0, t0 := cpuTime(b), time.Now()
	f()
	p.cpu += cpuTime(b) - c0
	p.wall += time.Since(t0)
}

// percent is the CPU time in percent of one CPU.
func (p *procCPU) percent() float64 { return 100 * p.cpu.Seconds() / p.wall.Seconds() }

func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// add adds tap1's programs' statistics, and its ARP counters, in m.
func (c *dirCost) add(b *testing.B, m *Monitor) {
	b.Helper()
	l := m.links["tap1"].obj
	c.dir[0].addProg(b, l.ProbeIngress)
	c.dir[1].addProg(b, l.ProbeEgress)
	n := m.Links()[0].Counters
	c.dir[0].arp += n.ArpReplies
	c.dir[1].arp += n.ArpRequests
}

func (c *runCost) arpShare() float64 { return 100 * float64(c.arp) / float64(c.runs) }

func (c *runCost) addProg(b *testing.B, p *ebpf.Program) {
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
	att     *tcattach.Attachment
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
		e.att, err = tcattach.Attach(w.gw.Handle, tap.Attrs().Index, []tcattach.Program{{Prog: e.in, Ingress: true}, {Prog: e.out}},
			tcattach.Options{Mode: tcattach.Auto, Name: "multilink_empty", First: true, Priority: filterPriority})
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
// gateway's tap1 address to the hub's bridge and returns the rate received
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
	if r.End.SumReceived.BitsPerSecond == 0 {
		b.Fatal("iperf3 reported no rate received (no end.sum_received)")
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
