package e2e

import (
	"testing"
	"time"
)

// waitFor calls cond every interval until it returns true or within has
// passed (or the test ends), and reports whether it did; the message on
// failure is the caller's. The e2e tests' one bounded poll: a shared
// testsupport.Eventually can replace it.
func waitFor(t testing.TB, within, interval time.Duration, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		select {
		case <-t.Context().Done():
			return false
		case <-time.After(interval):
		}
	}
}
