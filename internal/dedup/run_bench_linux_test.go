package dedup

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// BenchmarkProgramRun measures the filter's own cost per frame with
// BPF_PROG_TEST_RUN in the kernel (no traffic), against a program that
// does nothing run the same way (the test-run loop's own cost). Paths:
// "copy" (the frame is known, within the window: dropped), "stale"
// (window 1 ns: known but old, passed), "arp" (not IP: passed at once),
// each one frame repeated 100000 times in the kernel; "new" (frames never
// seen, passed), each frame run once, so the kernel's timer is read
// around every run and caches are colder: compare it with its own
// "new-.../empty-program".
//
//	go test -run '^$' -bench ProgramRun -count 5 ./internal/dedup
func BenchmarkProgramRun(b *testing.B) {
	empty, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()}})
	if err != nil {
		b.Fatal(err)
	}
	defer empty.Close()
	copyF, err := New(nil, 0, Options{Window: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer copyF.Close()
	staleF, err := New(nil, 0, Options{Window: time.Nanosecond})
	if err != nil {
		b.Fatal(err)
	}
	defer staleF.Close()
	frames := []struct {
		name  string
		frame []byte
	}{
		{"ipv4-1500", echo(macA, 1, 1, 1500-14-28)},
		{"ipv4-64", echo(macA, 1, 1, 64-14-28)},
	}
	for _, f := range frames {
		b.Run(f.name+"/empty-program", func(b *testing.B) { runFrames(b, empty, f.frame) })
		b.Run(f.name+"/copy", func(b *testing.B) { runFrames(b, copyF.obj.Dedup, f.frame) })
		b.Run(f.name+"/stale", func(b *testing.B) { runFrames(b, staleF.obj.Dedup, f.frame) })
	}
	for _, f := range frames {
		b.Run("new-"+f.name+"/empty-program", func(b *testing.B) { runNew(b, empty, f.frame) })
		b.Run("new-"+f.name+"/filter", func(b *testing.B) { runNew(b, copyF.obj.Dedup, f.frame) })
	}
	b.Run("arp/empty-program", func(b *testing.B) { runFrames(b, empty, arpRequest(macA)) })
	b.Run("arp/filter", func(b *testing.B) { runFrames(b, copyF.obj.Dedup, arpRequest(macA)) })
}

// runFrames runs prog on frame 100000 times in the kernel per benchmark
// iteration and reports the mean time per frame.
func runFrames(b *testing.B, prog *ebpf.Program, frame []byte) {
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

// runNew runs prog once on each of 1000 frames per benchmark iteration,
// each frame never run before (frame with another IP id and ICMP sequence),
// and reports the mean time per frame the kernel measured.
func runNew(b *testing.B, prog *ebpf.Program, frame []byte) {
	frame = bytes.Clone(frame)
	var total time.Duration
	var n uint32
	for range b.N {
		for range 1000 {
			n++
			binary.BigEndian.PutUint16(frame[14+4:], uint16(n))        // IP id
			binary.BigEndian.PutUint16(frame[14+20+6:], uint16(n>>16)) // ICMP sequence
			_, per, err := prog.Benchmark(frame, 1, nil)
			if err != nil {
				b.Fatal(err)
			}
			total += per
		}
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N*1000), "ns/frame")
}
