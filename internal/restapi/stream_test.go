package restapi

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
)

// streamServer serves the API with the fakes on loopback, with read and
// write timeouts far shorter than a stream lives (the daemon's are 30 s
// and 90 s).
func streamServer(t *testing.T, d Deps) string {
	t.Helper()
	r, err := NewRouter(d)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: r, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// openStream GETs the events as a stream; the caller reads the body.
func openStream(t *testing.T, ctx context.Context, base string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/client/events?bond=bond0", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// nextEvent reads one event (its name and data) from a stream.
func nextEvent(t *testing.T, rd *bufio.Reader) (string, api.Event) {
	t.Helper()
	var name string
	var e api.Event
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("read the stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e); err != nil {
				t.Fatalf("data %q: %v", line, err)
			}
		case line == "" && name != "":
			return name, e
		}
	}
}

// TestEventStream: with Accept: text/event-stream the events endpoint
// sends the kept events, then each new one as it comes, past the server's
// read and write timeouts; without it, the JSON list as before.
func TestEventStream(t *testing.T) {
	d, f := fakeDeps("")
	base := streamServer(t, d)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := openStream(t, ctx, base)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rd := bufio.NewReader(resp.Body)
	if name, e := nextEvent(t, rd); name != api.EventSwitch || e.From != "tap1" || e.To != "tap2" {
		t.Errorf("first event %s %+v, want the kept switch tap1 -> tap2", name, e)
	}
	time.Sleep(time.Second) // over both timeouts
	f.live <- api.Event{Bond: "bond0", Kind: api.EventState, Link: "tap1", State: api.LinkDown}
	if name, e := nextEvent(t, rd); name != api.EventState || e.Link != "tap1" || e.State != api.LinkDown {
		t.Errorf("live event %s %+v, want tap1 down", name, e)
	}

	list, err := http.Get(base + "/v1/client/events?bond=bond0")
	if err != nil {
		t.Fatal(err)
	}
	defer list.Body.Close()
	var events []api.Event
	if err := json.NewDecoder(list.Body).Decode(&events); err != nil || len(events) != 1 || !strings.HasPrefix(list.Header.Get("Content-Type"), "application/json") {
		t.Errorf("without the Accept header: %v %q %+v, want the JSON list", err, list.Header.Get("Content-Type"), events)
	}
}

// TestEventStreamLimit: open streams hold none of the request slots, and
// past MaxStreams a stream is refused 429 with a JSON error.
func TestEventStreamLimit(t *testing.T) {
	d, _ := fakeDeps("")
	d.MaxInFlight = 1
	base := streamServer(t, d)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range MaxStreams {
		resp := openStream(t, ctx, base)
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %d", i, resp.StatusCode)
		}
	}
	resp := openStream(t, ctx, base)
	defer resp.Body.Close()
	var e api.Error
	if resp.StatusCode != http.StatusTooManyRequests || json.NewDecoder(resp.Body).Decode(&e) != nil || !strings.Contains(e.Error, "event streams") {
		t.Errorf("stream %d: %d %+v, want 429 naming event streams", MaxStreams+1, resp.StatusCode, e)
	}
	list, err := http.Get(base + "/v1/client/links")
	if err != nil {
		t.Fatal(err)
	}
	list.Body.Close()
	if list.StatusCode != http.StatusOK {
		t.Errorf("a request while %d streams are open (1 request slot): %d, want 200", MaxStreams, list.StatusCode)
	}
}
