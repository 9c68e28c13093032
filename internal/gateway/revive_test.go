package gateway

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestReviveDownLinks: links down and silent for 5 s get a new session
// each, then not again before twice as long; links up get none.
func TestReviveDownLinks(t *testing.T) {
	w, _, steer, g := rotatingGateway(t, true)
	sessions := func() []string {
		var out []string
		for _, op := range w.Ops() {
			if tap, ok := strings.CutPrefix(op, "tunnel new session "); ok {
				out = append(out, tap)
			}
		}
		return out
	}
	state := map[string]*revive{}
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	steer.now = t0
	g.reviveDue(state, steer.now)
	if s := sessions(); len(s) != 0 {
		t.Fatalf("links up: new sessions %v, want none", s)
	}
	steer.down, steer.since = true, t0
	steer.now = t0.Add(4 * time.Second)
	g.reviveDue(state, steer.now)
	if s := sessions(); len(s) != 0 {
		t.Fatalf("links down for 4 s: new sessions %v, want none yet", s)
	}
	steer.now = t0.Add(5 * time.Second)
	g.reviveDue(state, steer.now)
	if s := sessions(); !slices.Equal(sortedCopy(s), []string{"tap1", "tap2"}) {
		t.Fatalf("links down for 5 s: new sessions %v, want one each", s)
	}
	steer.now = t0.Add(14 * time.Second)
	g.reviveDue(state, steer.now)
	if s := sessions(); len(s) != 2 {
		t.Fatalf("9 s after the first: new sessions %v, want no second before 10 s", s)
	}
	steer.now = t0.Add(15 * time.Second)
	g.reviveDue(state, steer.now)
	if s := sessions(); len(s) != 4 {
		t.Fatalf("10 s after the first: new sessions %v, want a second each", s)
	}
	steer.down = false
	steer.now = t0.Add(60 * time.Second)
	g.reviveDue(state, steer.now)
	if s := sessions(); len(s) != 4 || len(state) != 0 {
		t.Fatalf("links up again: new sessions %v, state %v: want none more, state cleared", s, state)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
