package tunnel

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/multilink/multilink/internal/errkind"
)

// slowStopper's Stop waits until every tunnel's stop has begun: it only
// returns when the stops run at once.
type slowStopper struct {
	all  sync.WaitGroup
	fail map[string]error
}

func (s *slowStopper) Stop(_ context.Context, tap string) error {
	s.all.Done()
	s.all.Wait()
	return s.fail[tap]
}

func TestStopAll(t *testing.T) {
	taps := []string{"tap1", "tap2", "tap3"}
	s := &slowStopper{fail: map[string]error{"tap2": errkind.NotFound("gone"), "tap3": errors.New("stuck")}}
	s.all.Add(len(taps))
	err := StopAll(context.Background(), s, taps)
	if err == nil || !strings.Contains(err.Error(), "stop link tap3: stuck") || strings.Contains(err.Error(), "tap2") {
		t.Errorf("StopAll = %v, want tap3's error alone (tap2 was not managed)", err)
	}
}
