package impairment

import (
	"fmt"
	"math"
	"time"

	"github.com/multilink/multilink/internal/errkind"
)

// Impairment is what one direction of the link does to the frames that
// cross it. The zero value forwards every frame at once.
type Impairment struct {
	Delay  time.Duration // constant one-way delay
	Jitter time.Duration // each frame's delay is uniform in Delay ± Jitter (not below zero)
	Loss   float64       // probability 0..1 that a frame is dropped, independent per frame
	Cut    bool          // drop everything, also frames already in flight
	Rate   uint64        // bytes per second on the wire, 0 for unlimited
}

// Validate reports an out-of-range field as an errkind.KindInvalid error.
func (im Impairment) Validate() error {
	switch {
	case im.Delay < 0:
		return errkind.Invalid("delay", "must not be negative, got %v", im.Delay)
	case im.Jitter < 0:
		return errkind.Invalid("jitter", "must not be negative, got %v", im.Jitter)
	case math.IsNaN(im.Loss) || im.Loss < 0 || im.Loss > 1:
		return errkind.Invalid("loss", "must be within 0..1, got %v", im.Loss)
	}
	return nil
}

func (im Impairment) String() string {
	s := fmt.Sprintf("delay=%v jitter=%v loss=%.3g", im.Delay, im.Jitter, im.Loss)
	if im.Rate > 0 {
		s += fmt.Sprintf(" rate=%dB/s", im.Rate)
	}
	if im.Cut {
		s += " cut"
	}
	return s
}

// Direction is one way across the link.
type Direction int

// The two directions: frames that arrive on A leave on B, and back.
const (
	AtoB Direction = iota
	BtoA
)

func (d Direction) String() string {
	switch d {
	case AtoB:
		return "a->b"
	case BtoA:
		return "b->a"
	}
	return fmt.Sprintf("direction(%d)", int(d))
}

func (d Direction) valid() error {
	if d != AtoB && d != BtoA {
		return errkind.Invalid("direction", "must be AtoB or BtoA, got %d", int(d))
	}
	return nil
}

// Counters count one direction's frames since the relay started. Bytes
// are Ethernet frame bytes (no preamble, no FCS).
type Counters struct {
	Frames     uint64 // frames written to the far interface
	Bytes      uint64 // bytes of those frames
	Lost       uint64 // frames dropped by the Loss draw
	CutDrops   uint64 // frames dropped because the direction was cut
	QueueDrops uint64 // frames dropped because the FIFO was full
	Oversize   uint64 // frames longer than the receive buffer, dropped
	SendErrors uint64 // frames the far interface refused (down, no buffer)
	ReadErrors uint64 // failed reads on the near interface
	GSO        uint64 // super-frames (TSO/GSO) among the frames read
}

// Stats are the counters of both directions.
type Stats struct {
	AtoB Counters
	BtoA Counters
}

// Dir returns the counters of direction d.
func (s Stats) Dir(d Direction) Counters {
	if d == BtoA {
		return s.BtoA
	}
	return s.AtoB
}
