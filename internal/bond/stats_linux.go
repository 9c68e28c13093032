package bond

import (
	"context"
	"fmt"

	"github.com/multilink/multilink/internal/bpf"
	"github.com/multilink/multilink/internal/errkind"
)

// EBPFStats are an eBPF bond's frame counters since it was made (summed
// over CPUs).
type EBPFStats struct {
	Out           uint64 // out of the bond, to the active member
	In            uint64 // from the active member into the bond
	InGrace       uint64 // from the previous member, within a switch's grace
	InDup         uint64 // from the dup member into the bond
	Duplicated    uint64 // copies sent to the dup member (each also went to the active one)
	DroppedBackup uint64 // arrived on another member and dropped
	DroppedNone   uint64 // out of the bond while no member was active
}

// Stats reads the bond's counters.
func (e *EBPF) Stats(ctx context.Context, bond string) (EBPFStats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.bonds[bond]
	if !ok {
		return EBPFStats{}, errkind.NotFound("no eBPF bond %s", bond)
	}
	var per []bpf.BondBondCounters
	if err := e.obj.Counters.Lookup(uint32(b.peer.Attrs().Index), &per); err != nil {
		return EBPFStats{}, fmt.Errorf("read the counters of bond %s: %w", bond, err)
	}
	var s EBPFStats
	for _, c := range per {
		s.Out += c.OutFrames
		s.In += c.InFrames
		s.InGrace += c.InGrace
		s.InDup += c.InDup
		s.Duplicated += c.DupFrames
		s.DroppedBackup += c.DroppedBackup
		s.DroppedNone += c.DroppedNone
	}
	return s, nil
}
