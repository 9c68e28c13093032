package dedup

import (
	"context"
	"fmt"

	"github.com/multilink/multilink/internal/bpf"
	"github.com/multilink/multilink/internal/errkind"
)

// Stats are the filter's counters over every TAP it is on, since it was
// loaded (summed over CPUs).
type Stats struct {
	Seen    uint64 // IPv4 and IPv6 frames looked at
	Dropped uint64 // copies of a frame seen within the window: dropped
	Stale   uint64 // frames seen before, longer ago than the window: passed
	// Overwritten counts new frames that took the slot of another seen
	// within the window: that one's copy, if it comes, passes.
	Overwritten uint64
}

// Stats reads the counters.
func (f *Filter) Stats(ctx context.Context) (Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.obj == nil {
		return Stats{}, errkind.Conflict("the duplicate filter is closed")
	}
	var per []bpf.DedupDedupCounters
	if err := f.obj.DedupStats.Lookup(uint32(0), &per); err != nil {
		return Stats{}, fmt.Errorf("read the duplicate filter's counters: %w", err)
	}
	var s Stats
	for _, c := range per {
		s.Seen += c.Seen
		s.Dropped += c.Dropped
		s.Stale += c.Stale
		s.Overwritten += c.Overwritten
	}
	return s, nil
}
