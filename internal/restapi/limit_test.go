package restapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/multilink/multilink/api"
)

// blockingLinks holds every Links call until release closes.
type blockingLinks struct {
	entered chan struct{}
	release chan struct{}
}

func (b blockingLinks) Links() []api.LinkStats {
	b.entered <- struct{}{}
	<-b.release
	return nil
}

// TestInFlightLimit: past MaxInFlight requests at once the API answers
// 429 with Retry-After and a JSON error, at once; /health and /metrics
// are still served; a freed slot serves again.
func TestInFlightLimit(t *testing.T) {
	d, _ := fakeDeps("")
	b := blockingLinks{entered: make(chan struct{}, 2), release: make(chan struct{})}
	d.Links, d.MaxInFlight = b, 2
	d.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("up 1\n")) })
	r, err := NewRouter(d)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	done := make(chan int, 2)
	for range 2 {
		go func() { done <- get("/v1/client/links").Code }()
	}
	<-b.entered
	<-b.entered
	w := get("/v1/client/links")
	var e api.Error
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" || json.Unmarshal(w.Body.Bytes(), &e) != nil || !strings.Contains(e.Error, "2 in flight") {
		t.Errorf("third request: %d %q %s, want 429 with Retry-After and a JSON error", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	for _, path := range []string{"/health", "/helth", "/metrics"} {
		if w := get(path); w.Code != http.StatusOK {
			t.Errorf("%s while the API is full: %d, want 200", path, w.Code)
		}
	}
	close(b.release)
	for range 2 {
		if code := <-done; code != http.StatusOK {
			t.Errorf("a request in flight: %d", code)
		}
	}
	if w := get("/v1/client/links"); w.Code != http.StatusOK {
		t.Errorf("after the slots were freed: %d", w.Code)
	}
}
