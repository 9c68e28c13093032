package tunnel

import (
	"testing"
	"time"
)

func TestBackoffSchedule(t *testing.T) {
	s := time.Second
	b := backoff{min: 500 * time.Millisecond, max: 4 * s, stable: 60 * s}
	for i, c := range []struct {
		ran  time.Duration
		want time.Duration
	}{
		{0, 500 * time.Millisecond}, // first exit
		{s, s},
		{s, 2 * s},
		{s, 4 * s},
		{s, 4 * s}, // capped
		{59 * s, 4 * s},
		{60 * s, 500 * time.Millisecond}, // ran stably: reset
		{0, s},
		{2 * time.Minute, 500 * time.Millisecond},
	} {
		if got := b.next(c.ran); got != c.want {
			t.Fatalf("step %d: next(%s) = %s, want %s", i, c.ran, got, c.want)
		}
	}
}
