package testsupport

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// pollEvery is how often Eventually and EventuallyState look.
const pollEvery = 10 * time.Millisecond

// Poll calls cond at once and then every interval until it holds, limit
// passes or ctx ends, and returns how long it waited. If cond never held,
// the error says what was awaited, for how long, and the last state cond
// reported. It takes no testing.TB, so a harness outside the tests (the
// demo) and tests with their own message (e2e) can poll the same way.
func Poll(ctx context.Context, limit, interval time.Duration, what string, cond func() (ok bool, state string)) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(limit)
	for {
		ok, state := cond()
		if ok {
			return time.Since(start), nil
		}
		last := ""
		if state != "" {
			last = " (last: " + state + ")"
		}
		if !time.Now().Before(deadline) {
			return time.Since(start), fmt.Errorf("timed out after %v waiting for %s%s", limit, what, last)
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("waiting for %s%s: %w", what, last, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// Eventually fails t unless cond holds within limit, looking every 10 ms,
// and returns how long it waited. It may be called from a cleanup.
func Eventually(t testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	return EventuallyState(t, limit, what, func() (bool, string) { return cond(), "" })
}

// EventuallyState is Eventually for a cond that also reports what it saw;
// the failure names the last state.
func EventuallyState(t testing.TB, limit time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	took, err := Poll(context.Background(), limit, pollEvery, what, cond)
	if err != nil {
		t.Fatal(err)
	}
	return took
}
