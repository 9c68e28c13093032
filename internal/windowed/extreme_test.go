package windowed

import (
	"testing"
	"time"
)

func TestExtremeExpires(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ms := time.Millisecond
	w := 10 * time.Second
	var lo Extreme
	hi := Extreme{Max: true}
	if lo.Value() != 0 || hi.Value() != 0 {
		t.Fatalf("empty: %v %v, want 0", lo.Value(), hi.Value())
	}
	for _, s := range []struct {
		at int
		v  time.Duration
	}{{0, 5 * ms}, {100, 2 * ms}, {3000, 9 * ms}} {
		lo.Add(at(s.at), s.v, w)
		hi.Add(at(s.at), s.v, w)
	}
	if lo.Value() != 2*ms || hi.Value() != 9*ms {
		t.Errorf("lowest %v, highest %v; want 2ms and 9ms", lo.Value(), hi.Value())
	}
	lo.Add(at(10500), 7*ms, w)
	hi.Add(at(10500), 7*ms, w)
	if lo.Value() != 7*ms || hi.Value() != 9*ms {
		t.Errorf("after the window moved on: lowest %v (want 7ms: 2 and 5 expired), highest %v (want 9ms)", lo.Value(), hi.Value())
	}
}
