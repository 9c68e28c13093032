package probe

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/nstest"
)

// BenchmarkProbeCost measures what the probe costs a tunnel: iperf3 TCP
// throughput over one real OpenVPN TAP tunnel (gateway tap1 to the hub's
// bridge) without and with the probe attached, runs alternating in the same
// process, and the programs' own run time per packet from the kernel's BPF
// statistics (run_time_ns / run_cnt). docs/benchmarks.md has the figures:
//
//	go test -run '^$' -bench ProbeCost -benchtime 1x ./probe              # this host (TCX)
//	go run ./cmd/multilink-lab --packages ./probe --run '^$' --bench ProbeCost   # 6.1 legacy tc, 6.12
func BenchmarkProbeCost(b *testing.B) {
	nstest.RequireCommand(b, "iperf3")
	w := newWorld(b)
	addr(b, w, "10.8.0.253/24")
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	nstest.Require(b, err == nil, "kernel BPF run-time statistics: %v", err)
	defer stats.Close()

	srv := w.hub.Command(context.Background(), "iperf3", "-s", "-B", "10.8.0.254")
	if err := srv.Start(); err != nil {
		b.Fatalf("iperf3 server: %v", err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	time.Sleep(500 * time.Millisecond)

	const rounds = 9
	var without, with []float64
	var m *Monitor
	for i := 0; i < rounds; i++ {
		without = append(without, iperf(b, w))
		m, err = NewMonitor(Options{NetNS: w.gw.Path()})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Add(context.Background(), LinkSpec{Bond: "bond0", Link: "tap1", Target: hubIP, Active: true}); err != nil {
			b.Fatal(err)
		}
		with = append(with, iperf(b, w))
		if i < rounds-1 {
			m.Close()
		}
	}
	per := map[string]float64{}
	var pkts uint64
	for name, p := range map[string]*ebpf.Program{"ingress": m.obj.ProbeIngress, "egress": m.obj.ProbeEgress} {
		st, err := p.Stats()
		if err != nil {
			b.Fatal(err)
		}
		if st.RunCount == 0 {
			b.Fatalf("%s program never ran", name)
		}
		per[name] = float64(st.Runtime.Nanoseconds()) / float64(st.RunCount)
		pkts += st.RunCount
	}
	attach := m.Links()[0].Attach
	m.Close()
	ratio := median(with) / median(without)
	b.Logf("BENCH probe cost (%s, kernel %s): iperf3 over one tunnel without the probe %v Mbit/s (median %.0f), with %v (median %.0f): ratio %.3f (%.1f%% loss); per packet ingress %.0f ns, egress %.0f ns over %d runs",
		attach, kernel(b), rounded(without), median(without), rounded(with), median(with), ratio, (1-ratio)*100, per["ingress"], per["egress"], pkts)
	b.ReportMetric(ratio, "throughput-ratio")
	b.ReportMetric(per["ingress"], "ns/pkt-ingress")
	b.ReportMetric(per["egress"], "ns/pkt-egress")
}

// iperf runs a 3 s TCP test from the gateway's tap1 address to the hub's
// bridge and returns the received rate in Mbit/s.
func iperf(b *testing.B, w *world) float64 {
	b.Helper()
	out, err := w.gw.Command(context.Background(), "iperf3", "-c", "10.8.0.254", "-B", "10.8.0.253", "-t", "3", "-J").Output()
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

func rounded(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(int(x))
	}
	return out
}

func kernel(b *testing.B) string {
	var u unix.Utsname
	_ = unix.Uname(&u)
	return unix.ByteSliceToString(u.Release[:])
}
