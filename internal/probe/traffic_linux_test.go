package probe

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// onCPU runs f on the given CPU (BPF_PROG_TEST_RUN runs the program on the
// caller's CPU), or skips when the machine has no such CPU.
func onCPU(t *testing.T, cpu int, f func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var was, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &was); err != nil {
		t.Fatal(err)
	}
	if !was.IsSet(cpu) {
		t.Skipf("CPU %d is not available to this test", cpu)
	}
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.SchedSetaffinity(0, &was) }()
	f()
}

// TestProgramsTrafficPerCPU: each CPU counts into its own slot of the
// link's traffic, and the readout sums them.
func TestProgramsTrafficPerCPU(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	o, _ := loadTest(t, false)
	onCPU(t, 0, func() { run(t, o.ProbeIngress, ipv4Frame(100)) })
	onCPU(t, 1, func() {
		run(t, o.ProbeIngress, ipv4Frame(200))
		run(t, o.ProbeEgress, ipv4Frame(300))
	})
	per, err := o.readTraffic(o.linkObjects)
	if err != nil {
		t.Fatal(err)
	}
	if c := per[0]; c.RxFrames != 1 || c.RxBytes != 100 || c.TxFrames != 0 {
		t.Errorf("CPU 0's slot: %+v, want 1 frame of 100 bytes received", c)
	}
	if c := per[1]; c.RxFrames != 1 || c.RxBytes != 200 || c.TxFrames != 1 || c.TxBytes != 300 {
		t.Errorf("CPU 1's slot: %+v, want 1 frame of 200 bytes received, 1 of 300 sent", c)
	}
	kv := counters(t, o)
	if kv.RxFrames != 2 || kv.RxBytes != 300 || kv.TxFrames != 1 || kv.TxBytes != 300 {
		t.Errorf("summed: rx %d/%d B, tx %d/%d B; want 2/300, 1/300", kv.RxFrames, kv.RxBytes, kv.TxFrames, kv.TxBytes)
	}
	if kv.lastRxNs != max(per[0].LastRxNs, per[1].LastRxNs) || kv.lastRxNs == 0 {
		t.Errorf("last frame at %d, want the later of the CPUs' %d and %d", kv.lastRxNs, per[0].LastRxNs, per[1].LastRxNs)
	}
}

// TestProgramsPreciseClock: the pre-5.11 build calls bpf_ktime_get_ns where
// the coarse clock was, loads, and stamps frames with the precise time.
func TestProgramsPreciseClock(t *testing.T) {
	o, _ := loadTestOpts(t, loadOptions{preciseClock: true})
	for name, p := range o.spec.Programs {
		for _, ins := range p.Instructions {
			if ins.IsBuiltinCall() && ins.Constant == int64(asm.FnKtimeGetCoarseNs) {
				t.Errorf("%s still calls bpf_ktime_get_coarse_ns", name)
			}
		}
	}
	var before, after unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &before); err != nil {
		t.Fatal(err)
	}
	run(t, o.ProbeIngress, ipv4Frame(100))
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &after); err != nil {
		t.Fatal(err)
	}
	// The coarse clock lags by up to a tick: only the precise one is
	// always within the two readings.
	kv := counters(t, o)
	if lo, hi := uint64(before.Nano()), uint64(after.Nano()); kv.lastRxNs < lo || kv.lastRxNs > hi {
		t.Errorf("frame stamped %d, want within [%d, %d] (the precise clock)", kv.lastRxNs, lo, hi)
	}
}

// TestProgramsStampOncePerJiffy: on one CPU, a frame in the same tick as
// the last one leaves its stamp alone, and a frame in a later tick is
// stamped again (the gate never freezes the age).
func TestProgramsStampOncePerJiffy(t *testing.T) {
	o, _ := loadTestOpts(t, loadOptions{preciseClock: true}) // stamps are exact times
	slot := func() (jiffy, ns uint64) {
		per, err := o.readTraffic(o.linkObjects)
		if err != nil {
			t.Fatal(err)
		}
		return per[0].LastRxJiffy, per[0].LastRxNs
	}
	onCPU(t, 0, func() {
		sameTick := false
		for range 50 { // two frames microseconds apart: in one tick nearly always
			run(t, o.ProbeIngress, ipv4Frame(100))
			j1, ns1 := slot()
			run(t, o.ProbeIngress, ipv4Frame(100))
			j2, ns2 := slot()
			if j1 == 0 || ns1 == 0 {
				t.Fatalf("a frame left jiffy %d, stamp %d", j1, ns1)
			}
			if j1 == j2 {
				sameTick = true
				if ns2 != ns1 {
					t.Fatalf("a second frame in tick %d restamped %d to %d", j1, ns1, ns2)
				}
				break
			}
		}
		if !sameTick {
			t.Fatal("50 pairs of frames, never two in one tick")
		}
		_, first := slot()
		time.Sleep(30 * time.Millisecond) // three ticks at the lowest HZ, 100
		run(t, o.ProbeIngress, ipv4Frame(100))
		if _, second := slot(); second < first+uint64(25*time.Millisecond) {
			t.Errorf("a frame 30 ms later stamped %d, the first %d: want at least 25 ms later", second, first)
		}
	})
}

// TestProgramsNoJiffies: the pre-5.5 build calls bpf_ktime_get_ns where
// bpf_jiffies64 was, loads, and stamps every frame.
func TestProgramsNoJiffies(t *testing.T) {
	o, _ := loadTestOpts(t, loadOptions{preciseClock: true, noJiffies: true})
	for name, p := range o.spec.Programs {
		for _, ins := range p.Instructions {
			if ins.IsBuiltinCall() && ins.Constant == int64(asm.FnJiffies64) {
				t.Errorf("%s still calls bpf_jiffies64", name)
			}
		}
	}
	onCPU(t, 0, func() { // one slot: another CPU's slot would be stamped anyway
		run(t, o.ProbeIngress, ipv4Frame(100))
		first := counters(t, o).lastRxNs
		time.Sleep(time.Millisecond) // within a tick at HZ 250 or less, mostly
		run(t, o.ProbeIngress, ipv4Frame(100))
		if second := counters(t, o).lastRxNs; second < first+uint64(time.Millisecond) {
			t.Errorf("a frame 1 ms later stamped %d, the first %d: want every frame stamped", second, first)
		}
	})
}

// TestTrafficSlotIsACacheLine: the Go view of a CPU's slot is the C one.
func TestTrafficSlotIsACacheLine(t *testing.T) {
	if trafficSlot != 64 {
		t.Errorf("a CPU's traffic slot is %d bytes, want 64 (one cache line, as bpf/probe.c asserts)", trafficSlot)
	}
}

// TestRemovedLinkIsNotRead: a read racing the link's removal gets an
// error, never a closed map or the entries of the next link on its index.
func TestRemovedLinkIsNotRead(t *testing.T) {
	o, _ := loadTest(t, false)
	if err := o.removeLink(o.linkObjects); err != nil {
		t.Fatal(err)
	}
	if _, err := o.readLink(o.linkObjects); !errors.Is(err, errRemoved) {
		t.Errorf("readLink after removal: %v, want errRemoved", err)
	}
	if _, err := o.readStats(o.linkObjects); !errors.Is(err, errRemoved) {
		t.Errorf("readStats after removal: %v, want errRemoved", err)
	}
}
