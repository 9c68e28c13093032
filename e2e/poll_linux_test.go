package e2e

import (
	"testing"
	"time"

	"github.com/multilink/multilink/internal/testsupport"
)

// waitFor calls cond every interval until it returns true or within has
// passed (or the test ends), and reports whether it did; the message on
// failure is the caller's (testsupport.Poll does the polling).
func waitFor(t testing.TB, within, interval time.Duration, cond func() bool) bool {
	t.Helper()
	_, err := testsupport.Poll(t.Context(), within, interval, "", func() (bool, string) { return cond(), "" })
	return err == nil
}
