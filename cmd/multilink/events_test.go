package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/apiclient"
)

// TestFollowEventsReconnects: -f goes on through the daemon's restart
// (its stream ends) and prints each event once: a switch and the state
// change that share its time both, and neither again when the kept events
// come again after the reconnection.
func TestFollowEventsReconnects(t *testing.T) {
	const at = "2026-12-06T21:00:36.699001102Z"
	state := fmt.Sprintf(`{"at":%q,"bond":"bond0","kind":"state","link":"tap1","state":"down"}`, at)
	sw := fmt.Sprintf(`{"at":%q,"bond":"bond0","kind":"switch","from":"tap1","to":"tap2","reason":"down"}`, at)
	later := `{"at":"2026-12-06T21:00:40Z","bond":"bond0","kind":"switch","from":"tap2","to":"tap1","reason":"failback"}`
	var conns atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "event: state\ndata: %s\n\nevent: switch\ndata: %s\n\n", state, sw)
		if conns.Add(1) > 1 { // after the "restart"
			fmt.Fprintf(w, "event: switch\ndata: %s\n\n", later)
		}
	}))
	defer srv.Close()
	c, err := apiclient.New(apiclient.Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*reconnectEvery+2*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- followEvents(ctx, c, "/v1/client/events", true, &out, &errOut) }()
	for conns.Load() < 2 && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(got) != 3 || !strings.Contains(got[0], `"state"`) || !strings.Contains(got[1], `"switch"`) || !strings.Contains(got[2], "failback") {
		t.Errorf("printed %d lines, want the state change, the switch and the failback once each:\n%s", len(got), out.String())
	}
	if !strings.Contains(errOut.String(), "connecting again") {
		t.Errorf("stderr %q: want a note that it connects again", errOut.String())
	}
}
