package probe

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/rlimit"

	"github.com/multilink/multilink/bpf"
)

// objects are the loaded programs and maps, one set per daemon.
type objects struct {
	bpf.ProbeObjects
	ringbuf bool // events come through the ring buffer; else poll stats
}

// loadObjects loads the probe programs. On a kernel without ring buffers
// (before 5.8) the events map becomes a one-entry array the programs never
// touch (use_ringbuf = 0 lets the verifier skip those calls), and the
// daemon polls the stats instead. noRingbuf forces that path (tests).
func loadObjects(noRingbuf bool) (*objects, error) {
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock limit: %w", err)
	}
	spec, err := bpf.LoadProbe()
	if err != nil {
		return nil, fmt.Errorf("load probe spec: %w", err)
	}
	o := &objects{ringbuf: !noRingbuf}
	if o.ringbuf {
		if err := features.HaveMapType(ebpf.RingBuf); err != nil {
			if !errors.Is(err, ebpf.ErrNotSupported) {
				return nil, fmt.Errorf("probe ring buffer support: %w", err)
			}
			o.ringbuf = false
		}
	}
	if !o.ringbuf {
		ev := spec.Maps[bpf.ProbeMapEvents]
		ev.Type, ev.KeySize, ev.ValueSize, ev.MaxEntries = ebpf.Array, 4, 4, 1
		if err := spec.Variables[bpf.ProbeVarUseRingbuf].Set(uint32(0)); err != nil {
			return nil, fmt.Errorf("set use_ringbuf: %w", err)
		}
	}
	if err := spec.LoadAndAssign(&o.ProbeObjects, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("load probe programs: %+v", ve)
		}
		return nil, fmt.Errorf("load probe programs: %w", err)
	}
	return o, nil
}
