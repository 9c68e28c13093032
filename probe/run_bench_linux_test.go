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
		b.Run(c.name+"/empty-program", func(b *testing.B) {
			_, per, err := empty.Benchmark(c.frame, 1000000, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(per.Nanoseconds()), "ns/frame")
		})
	}
	for _, c := range cases {
		for _, p := range []struct {
			dir  string
			prog interface {
				Benchmark([]byte, int, func()) (uint32, time.Duration, error)
			}
		}{{"ingress", o.ProbeIngress}, {"egress", o.ProbeEgress}} {
			b.Run(c.name+"/"+p.dir, func(b *testing.B) {
				const repeat = 1000000
				_, per, err := p.prog.Benchmark(c.frame, repeat, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(per.Nanoseconds()), "ns/frame")
			})
		}
	}
}
