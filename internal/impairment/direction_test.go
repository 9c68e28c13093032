package impairment

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/errkind"
)

func TestValidate(t *testing.T) {
	for _, im := range []Impairment{
		{Delay: -time.Millisecond},
		{Jitter: -1},
		{Loss: -0.1},
		{Loss: 1.5},
		{Loss: math.NaN()},
	} {
		if err := im.Validate(); !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("%v: got %v, want an invalid error", im, err)
		}
	}
	for _, im := range []Impairment{{}, {Delay: time.Second, Jitter: time.Second, Loss: 1, Cut: true, Rate: 1}} {
		if err := im.Validate(); err != nil {
			t.Errorf("%v: %v", im, err)
		}
	}
}

// queued drains what admit put in the FIFO.
func queued(d *direction) []frame {
	var fs []frame
	for {
		select {
		case f := <-d.queue:
			fs = append(fs, f)
		default:
			return fs
		}
	}
}

func TestAdmitDelayJitterKeepsOrder(t *testing.T) {
	d := newDirection(AtoB, 1, 100)
	d.imp.Store(&Impairment{Delay: 50 * time.Millisecond, Jitter: 20 * time.Millisecond})
	t0 := time.Unix(1000, 0)
	for i := range 100 {
		d.admit(t0.Add(time.Duration(i)*time.Millisecond), []byte{byte(i)}, 1)
	}
	fs := queued(d)
	if len(fs) != 100 {
		t.Fatalf("queued %d frames, want 100", len(fs))
	}
	for i, f := range fs {
		arrived := t0.Add(time.Duration(i) * time.Millisecond)
		if int(f.data[0]) != i {
			t.Fatalf("frame %d is at position %d", f.data[0], i)
		}
		if i > 0 && f.due.Before(fs[i-1].due) {
			t.Fatalf("frame %d due %v before frame %d (%v)", i, f.due, i-1, fs[i-1].due)
		}
		// Order may hold a frame back past Delay+Jitter, never make it early.
		if wait := f.due.Sub(arrived); wait < 30*time.Millisecond || wait > 70*time.Millisecond+time.Duration(i)*time.Millisecond {
			t.Fatalf("frame %d waits %v", i, wait)
		}
	}
}

func TestAdmitLossIsSeeded(t *testing.T) {
	lost := func(seed uint64) uint64 {
		d := newDirection(AtoB, seed, 10000)
		d.imp.Store(&Impairment{Loss: 0.3})
		for range 10000 {
			d.admit(time.Unix(0, 0), nil, 0)
		}
		if got := d.c.lost.Load() + uint64(len(d.queue)); got != 10000 {
			t.Fatalf("lost + queued = %d, want 10000", got)
		}
		return d.c.lost.Load()
	}
	a, b := lost(7), lost(7)
	if a != b {
		t.Errorf("seed 7 lost %d, then %d", a, b)
	}
	if a < 2800 || a > 3200 {
		t.Errorf("lost %d of 10000 at 30%%", a)
	}
}

func TestAdmitCutAndOverflow(t *testing.T) {
	d := newDirection(BtoA, 1, 3)
	d.imp.Store(&Impairment{Cut: true})
	d.admit(time.Now(), nil, 0)
	d.imp.Store(&Impairment{})
	for range 5 {
		d.admit(time.Now(), nil, 0)
	}
	c := d.c.snapshot()
	if c.CutDrops != 1 || c.QueueDrops != 2 || len(d.queue) != 3 {
		t.Errorf("cut %d, overflow %d, queued %d; want 1, 2, 3", c.CutDrops, c.QueueDrops, len(d.queue))
	}
}

func TestAdmitRate(t *testing.T) {
	d := newDirection(AtoB, 1, 10)
	d.imp.Store(&Impairment{Rate: 1000}) // 1000 B/s: 100 bytes take 100 ms
	t0 := time.Unix(0, 0)
	for range 3 {
		d.admit(t0, nil, 100)
	}
	for i, f := range queued(d) {
		if want := t0.Add(time.Duration(i+1) * 100 * time.Millisecond); !f.due.Equal(want) {
			t.Errorf("frame %d due %v, want %v", i, f.due.Sub(t0), want.Sub(t0))
		}
	}
	if got := serialisation(math.MaxInt, 1); got != time.Duration(math.MaxInt64) {
		t.Errorf("huge serialisation: %v", got)
	}
}

// TestRunDelaysAndCutsInFlight: the scheduler writes a frame when it is
// due, and a cut drops what is still in flight.
func TestRunDelaysAndCutsInFlight(t *testing.T) {
	d := newDirection(AtoB, 1, 10)
	ctx, cancel := context.WithCancel(t.Context())
	var mu sync.Mutex
	var wrote []time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.run(ctx, slog.New(slog.DiscardHandler), func([]byte) error {
			mu.Lock()
			defer mu.Unlock()
			wrote = append(wrote, time.Now())
			return nil
		})
	}()
	start := time.Now()
	d.imp.Store(&Impairment{Delay: 30 * time.Millisecond})
	d.admit(start, []byte{1}, 1)
	d.imp.Store(&Impairment{Delay: 300 * time.Millisecond})
	d.admit(start, []byte{2}, 1)
	time.Sleep(100 * time.Millisecond)
	d.imp.Store(&Impairment{Cut: true})
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(wrote) != 1 {
		t.Fatalf("wrote %d frames, want 1", len(wrote))
	}
	if got := wrote[0].Sub(start); got < 30*time.Millisecond || got > 90*time.Millisecond {
		t.Errorf("first frame after %v, want about 30 ms", got)
	}
	if c := d.c.snapshot(); c.Frames != 1 || c.CutDrops != 1 {
		t.Errorf("counters %+v", c)
	}
}
