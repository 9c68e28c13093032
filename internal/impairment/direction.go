package impairment

import (
	"context"
	"log/slog"
	"math/bits"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// DefaultQueueLen is the FIFO length of a direction when Options leave it 0.
const DefaultQueueLen = 4096

// frame is one frame waiting in a direction's FIFO. data is what the
// scheduler writes (it may carry a header the sockets need); size is the
// Ethernet frame's length, for the byte counters and the rate limit.
type frame struct {
	data []byte
	size int
	due  time.Time
}

// counters are Counters that goroutines update concurrently.
type counters struct {
	frames, bytes, lost, cut, queue, oversize, sendErr, readErr, gso atomic.Uint64
}

func (c *counters) snapshot() Counters {
	return Counters{
		Frames:     c.frames.Load(),
		Bytes:      c.bytes.Load(),
		Lost:       c.lost.Load(),
		CutDrops:   c.cut.Load(),
		QueueDrops: c.queue.Load(),
		Oversize:   c.oversize.Load(),
		SendErrors: c.sendErr.Load(),
		ReadErrors: c.readErr.Load(),
		GSO:        c.gso.Load(),
	}
}

// direction is one way across the link: admit runs on the reader
// goroutine, run on the scheduler goroutine, the Impairment is swapped
// atomically by setters.
type direction struct {
	dir   Direction
	imp   atomic.Pointer[Impairment]
	queue chan frame
	c     counters

	// Owned by the reader goroutine.
	rng      *rand.Rand
	lastDue  time.Time // due time of the last frame queued: order is kept
	linkFree time.Time // when the emulated wire is free again (Rate)
}

func newDirection(dir Direction, seed uint64, queueLen int) *direction {
	if queueLen <= 0 {
		queueLen = DefaultQueueLen
	}
	d := &direction{
		dir:   dir,
		queue: make(chan frame, queueLen),
		rng:   rand.New(rand.NewPCG(seed, 0x6d6c696e6b00+uint64(dir))),
	}
	d.imp.Store(&Impairment{})
	return d
}

// admit decides the fate of a frame that arrived at now: dropped (cut,
// lost, FIFO full) or queued with its due time.
func (d *direction) admit(now time.Time, data []byte, size int) {
	im := d.imp.Load()
	if im.Cut {
		d.c.cut.Add(1)
		return
	}
	if im.Loss > 0 && d.rng.Float64() < im.Loss {
		d.c.lost.Add(1)
		return
	}
	sent := now // when the last bit has left the emulated wire
	if im.Rate > 0 {
		if d.linkFree.After(sent) {
			sent = d.linkFree
		}
		sent = sent.Add(serialisation(size, im.Rate))
	}
	due := sent.Add(d.delay(im))
	if due.Before(d.lastDue) {
		due = d.lastDue
	}
	select {
	case d.queue <- frame{data: data, size: size, due: due}:
		d.lastDue = due
		if im.Rate > 0 {
			d.linkFree = sent
		}
	default:
		d.c.queue.Add(1)
	}
}

// delay draws a frame's delay: Delay ± Jitter, uniform, not below zero.
func (d *direction) delay(im *Impairment) time.Duration {
	if im.Jitter <= 0 {
		return im.Delay
	}
	v := im.Delay + time.Duration(d.rng.Int64N(2*int64(im.Jitter)+1)) - im.Jitter
	return max(v, 0)
}

// serialisation is how long size bytes take on a wire of rate bytes/s.
func serialisation(size int, rate uint64) time.Duration {
	hi, lo := bits.Mul64(uint64(size), uint64(time.Second))
	if hi >= rate {
		return time.Duration(1<<63 - 1)
	}
	q, _ := bits.Div64(hi, lo, rate)
	return time.Duration(min(q, 1<<63-1))
}

// run writes each queued frame when it is due, until ctx ends. write
// returning an error counts as a send error; the direction goes on.
func (d *direction) run(ctx context.Context, log *slog.Logger, write func([]byte) error) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		var f frame
		select {
		case <-ctx.Done():
			return
		case f = <-d.queue:
		}
		if wait := time.Until(f.due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		if d.imp.Load().Cut {
			d.c.cut.Add(1)
			continue
		}
		if err := write(f.data); err != nil {
			if ctx.Err() != nil {
				return
			}
			// Log the 1st, 2nd, 4th, 8th... error: visible, but bounded.
			if n := d.c.sendErr.Add(1); n&(n-1) == 0 {
				log.Warn("write frame", "dir", d.dir, "errors", n, "err", err)
			}
			continue
		}
		d.c.frames.Add(1)
		d.c.bytes.Add(uint64(f.size))
	}
}
