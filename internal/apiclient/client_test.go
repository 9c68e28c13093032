package apiclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/apitls"
)

func TestNewChecks(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{URL: "ftp://h:1"}, "want http(s)://host:port"},
		{Options{URL: "https://h:1/v1"}, "want http(s)://host:port"},
		{Options{URL: "http://h:1", Pin: "sha256//x"}, "a pin needs https"},
		{Options{URL: "https://h:1", Pin: "nonsense"}, "--pin"},
		{Options{URL: "http://192.0.2.1:3333", Token: "0123456789abcdef"}, "cleartext"},
	} {
		if _, err := New(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
	for _, o := range []Options{{URL: "http://127.0.0.1:3333", Token: "0123456789abcdef"}, {URL: "http://[::1]:3333/"}, {URL: "https://192.0.2.1:3333"}} {
		if _, err := New(o); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

// TestPinnedGet: the daemon's key is checked against the pin; the token
// goes as a bearer header; an error answer keeps the daemon's message.
func TestPinnedGet(t *testing.T) {
	var auth string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error": "bond \"bond9\" not found"}`)
			return
		}
		fmt.Fprint(w, `{"status": "ok"}`)
	}))
	defer srv.Close()
	pin := apitls.PinOfCert(srv.Certificate())
	c, err := New(Options{URL: srv.URL, Pin: pin, Token: "0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Status string }
	if err := c.Get(context.Background(), "/health", &out); err != nil || out.Status != "ok" || auth != "Bearer 0123456789abcdef" {
		t.Errorf("pinned GET: %v %+v, auth %q", err, out, auth)
	}
	var e *Error
	if err := c.Get(context.Background(), "/bad", &out); !errors.As(err, &e) || e.Status != 404 || e.Message != `bond "bond9" not found` {
		t.Errorf("error answer: %v", err)
	}
	wrong, err := New(Options{URL: srv.URL, Pin: "sha256//" + strings.Repeat("A", 43) + "="})
	if err != nil {
		t.Fatal(err)
	}
	if err := wrong.Get(context.Background(), "/health", &out); err == nil || !strings.Contains(err.Error(), "check --pin") {
		t.Errorf("another key: %v, want a pin mismatch naming --pin", err)
	}
	unpinned, err := New(Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := unpinned.Get(context.Background(), "/health", &out); err == nil || !strings.Contains(err.Error(), "give its pin with --pin") {
		t.Errorf("a self-signed key without a pin: %v, want the way out", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := New(Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Get(context.Background(), "/health", nil); err == nil || !strings.Contains(err.Error(), "is the daemon running?") {
		t.Errorf("%v", err)
	}
}

// TestStream: events with their names and data, comments skipped, a
// multi-line data joined; the end of the stream is io.ErrUnexpectedEOF; a
// server that answers JSON is not taken for a stream.
func TestStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "text/event-stream" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "[]")
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": keep-alive\n\nevent: switch\ndata: {\"a\":1}\n\ndata: x\ndata: y\n\n")
	}))
	defer srv.Close()
	c, err := New(Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = c.Stream(context.Background(), "/v1/client/events", func(ev string, data []byte) error {
		got = append(got, ev+"="+string(data))
		return nil
	})
	if !errors.Is(err, io.ErrUnexpectedEOF) || strings.Join(got, "|") != `switch={"a":1}|message=x`+"\n"+`y` {
		t.Errorf("stream: %v %q", err, got)
	}
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "[]")
	}))
	defer old.Close()
	c2, _ := New(Options{URL: old.URL})
	if err := c2.Stream(context.Background(), "/v1/client/events", func(string, []byte) error { return nil }); err == nil || !strings.Contains(err.Error(), "not an event stream") {
		t.Errorf("a JSON answer: %v", err)
	}
}

// TestHealthDown: a daemon whose /health says down (503) is read, not an
// error: the report is what status shows.
func TestHealthDown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"status": "down", "checks": [{"name": "bond0", "ok": false, "detail": "no link up"}]}`)
	}))
	defer srv.Close()
	c, err := New(Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Health(context.Background())
	if err != nil || h.Status != "down" || len(h.Checks) != 1 {
		t.Errorf("Health: %+v %v, want the down report", h, err)
	}
	var out map[string]any
	if err := c.Get(context.Background(), "/health", &out); err == nil {
		t.Error("Get of a 503 is no error")
	}
}
