package tunnel

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/multilink/multilink/internal/errkind"
)

// Stopper stops one tunnel; *Manager is one.
type Stopper interface {
	Stop(ctx context.Context, tap string) error
}

// StopAll stops the tunnels of taps at once: each openvpn takes a second
// to tell its peer it goes (TLS mode's exit notification), so one bridge
// or bond stops in a second, not a second per link. Tunnels that are not
// managed are skipped.
func StopAll(ctx context.Context, s Stopper, taps []string) error {
	errs := make([]error, len(taps))
	var wg sync.WaitGroup
	for i, tap := range taps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Stop(ctx, tap); err != nil && errkind.KindOf(err) != errkind.KindNotFound {
				errs[i] = fmt.Errorf("stop link %s: %w", tap, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
