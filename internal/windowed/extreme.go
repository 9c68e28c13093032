package windowed

import "time"

// Extreme is the lowest (or, with Max, the highest) sample of the last
// window; the zero value keeps the lowest.
type Extreme struct {
	Max   bool // keep the highest sample, not the lowest
	slots [10]struct {
		start time.Time
		v     time.Duration
	}
	last int
}

// Add takes a sample v at at, over a window of window.
func (e *Extreme) Add(at time.Time, v time.Duration, window time.Duration) {
	width := window / time.Duration(len(e.slots))
	cur := &e.slots[e.last]
	if cur.start.IsZero() || at.Sub(cur.start) >= width {
		e.last = (e.last + 1) % len(e.slots)
		cur = &e.slots[e.last]
		cur.start, cur.v = at, v
	} else if e.better(v, cur.v) {
		cur.v = v
	}
	// Forget sub-windows older than the window.
	for i := range e.slots {
		if s := &e.slots[i]; !s.start.IsZero() && at.Sub(s.start) >= window {
			s.start, s.v = time.Time{}, 0
		}
	}
}

// Value is the extreme within the window, 0 before any sample.
func (e *Extreme) Value() time.Duration {
	var m time.Duration
	found := false
	for _, s := range e.slots {
		if !s.start.IsZero() && (!found || e.better(s.v, m)) {
			m, found = s.v, true
		}
	}
	return m
}

func (e *Extreme) better(a, b time.Duration) bool {
	if e.Max {
		return a > b
	}
	return a < b
}
