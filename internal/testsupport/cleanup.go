package testsupport

import (
	"context"
	"testing"
	"time"
)

// CloseAtEnd registers close (a tunnel manager's Close, say) to run when
// t ends, with limit to finish, and fails t, naming what, if it errs.
func CloseAtEnd(t testing.TB, what string, limit time.Duration, close func(context.Context) error) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		if err := close(ctx); err != nil {
			t.Errorf("closing %s: %v", what, err)
		}
	})
}
