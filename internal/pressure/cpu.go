package pressure

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// DefaultPath is where the kernel publishes CPU pressure.
const DefaultPath = "/proc/pressure/cpu"

// Sampling: every sampleEvery, the last window kept.
const (
	sampleEvery = 250 * time.Millisecond
	window      = time.Second
)

type sample struct {
	at    time.Time
	total time.Duration // cumulative "some" stall time
}

// CPU samples a pressure file and says how much of the last second some
// task waited for a CPU. Its zero value is not usable: use NewCPU.
type CPU struct {
	path string
	mu   sync.Mutex
	ring []sample // oldest first, spanning at most window+sampleEvery
}

// NewCPU reads path (DefaultPath if empty) once, so that a kernel without
// PSI (CONFIG_PSI off, or psi=0) is known at once.
func NewCPU(path string) (*CPU, error) {
	if path == "" {
		path = DefaultPath
	}
	c := &CPU{path: path}
	total, err := c.read()
	if err != nil {
		return nil, err
	}
	c.ring = []sample{{at: time.Now(), total: total}}
	return c, nil
}

// Run samples until ctx ends.
func (c *CPU) Run(ctx context.Context) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if total, err := c.read(); err == nil {
				c.add(sample{at: now, total: total})
			}
		}
	}
}

func (c *CPU) add(s sample) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ring = append(c.ring, s)
	for len(c.ring) > 2 && s.at.Sub(c.ring[1].at) >= window {
		c.ring = c.ring[1:]
	}
}

// Waiting is the share (0 to 1) of the time since the oldest sample kept
// (about a second ago) during which some task waited for a CPU, read now.
func (c *CPU) Waiting() float64 {
	total, err := c.read()
	if err != nil {
		return 0
	}
	now := time.Now()
	c.mu.Lock()
	first := c.ring[0]
	c.mu.Unlock()
	return share(first, sample{at: now, total: total})
}

// share is the stall share between two samples.
func share(a, b sample) float64 {
	span := b.at.Sub(a.at)
	if span <= 0 || b.total < a.total {
		return 0
	}
	return min(1, float64(b.total-a.total)/float64(span))
}

// read returns the "some" line's total.
func (c *CPU) read() (time.Duration, error) {
	data, err := os.ReadFile(c.path)
	if err != nil {
		return 0, fmt.Errorf("read CPU pressure: %w", err)
	}
	return parseSomeTotal(data)
}

// parseSomeTotal finds total=<µs> on the "some" line.
func parseSomeTotal(data []byte) (time.Duration, error) {
	for line := range bytes.Lines(data) {
		rest, ok := bytes.CutPrefix(line, []byte("some "))
		if !ok {
			continue
		}
		for f := range bytes.FieldsSeq(rest) {
			if v, ok := bytes.CutPrefix(f, []byte("total=")); ok {
				us, err := strconv.ParseUint(string(v), 10, 64)
				if err != nil {
					return 0, fmt.Errorf("CPU pressure total %q: %w", v, err)
				}
				return time.Duration(us) * time.Microsecond, nil
			}
		}
	}
	return 0, fmt.Errorf("CPU pressure: no \"some ... total=\" line in %q", data)
}
