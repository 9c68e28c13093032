package daemon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestQueuedServesOneAtATime: requests beyond the slot wait for a turn
// and are all served; none runs beside another.
func TestQueuedServesOneAtATime(t *testing.T) {
	var running, beside atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	h := queued(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if running.Add(1) > 1 {
			beside.Add(1)
		}
		entered <- struct{}{}
		<-release
		running.Add(-1)
		w.WriteHeader(http.StatusNoContent)
	}), 1)
	const requests = 4
	var wg sync.WaitGroup
	codes := make(chan int, requests)
	for range requests {
		wg.Go(func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			codes <- w.Code
		})
	}
	for range requests {
		<-entered // one is in; the others wait for its slot
		release <- struct{}{}
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusNoContent {
			t.Errorf("status %d, want %d", c, http.StatusNoContent)
		}
	}
	if n := beside.Load(); n != 0 {
		t.Errorf("%d requests were served beside another, want none", n)
	}
}

// TestQueuedClientLeaves: a request whose client left while it waited for
// the slot is not served.
func TestQueuedClientLeaves(t *testing.T) {
	var served atomic.Int32
	inside, release := make(chan struct{}), make(chan struct{})
	h := queued(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.URL.Path == "/first" {
			close(inside)
			<-release
		}
	}), 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/first", nil))
	}()
	<-inside // the slot is taken
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/second", nil).WithContext(ctx))
	close(release)
	<-done
	if n := served.Load(); n != 1 {
		t.Errorf("%d requests served, want 1 (the second's client had left)", n)
	}
}
