package probe

import (
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// BenchmarkProgramRun measures the programs' own cost per frame with
// BPF_PROG_TEST_RUN repeated in the kernel (no traffic, no statistics
// overhead): a full-size IPv4 frame (the hot path) and an ARP reply to a
// probe (the slow path).
//
//	go test -run '^$' -bench ProgramRun ./probe
func BenchmarkProgramRun(b *testing.B) {
	o, base := loadTestB(b)
	cases := []struct {
		name  string
		frame []byte
	}{
		{"ipv4-1500", ipv4Frame(1500)},
		{"arp-reply", arpFrame(2, hubMAC, testTarget, slotMAC(base, 3), [4]byte{})},
	}
	// The baseline: a program that does nothing, run the same way (the
	// test-run loop's own cost per frame).
	empty, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()}})
	if err != nil {
		b.Fatal(err)
	}
	defer empty.Close()
	for _, c := range cases {
		for _, p := range []struct {
			name string
			prog runner
		}{{"empty-program", empty}, {"ingress", o.ProbeIngress}, {"egress", o.ProbeEgress}} {
			b.Run(c.name+"/"+p.name, func(b *testing.B) { runFrames(b, p.prog, c.frame) })
		}
	}
}

type runner interface {
	Benchmark(in []byte, repeat int, reset func()) (uint32, time.Duration, error)
}

// runFrames runs prog on frame 100000 times in the kernel per benchmark
// iteration and reports the mean time per frame.
func runFrames(b *testing.B, prog runner, frame []byte) {
	const repeat = 100000
	var total time.Duration
	for range b.N {
		_, per, err := prog.Benchmark(frame, repeat, nil)
		if err != nil {
			b.Fatal(err)
		}
		total += per
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/frame")
}
