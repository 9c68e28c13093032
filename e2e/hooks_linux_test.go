package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/nstest"
)

// hookSink is a webhook server listening inside a namespace: the events
// it was POSTed, with their Authorization headers.
type hookSink struct {
	URL    string
	mu     sync.Mutex
	events []api.Event
	auth   []string
	hang   bool // never answer (until the request's context ends)
}

// startHookSink serves a webhook on 127.0.0.1 inside ns (the gateway's:
// what the daemon there reaches, nothing on the host's network).
func startHookSink(t testing.TB, ns *nstest.NS, hang bool) *hookSink {
	t.Helper()
	var ln net.Listener
	if err := ns.Do(func() (err error) { ln, err = net.Listen("tcp", "127.0.0.1:0"); return err }); err != nil {
		t.Fatalf("listen in %s: %v", ns.Name, err)
	}
	s := &hookSink{URL: "http://" + ln.Addr().String() + "/multilink", hang: hang}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.hang {
		<-r.Context().Done()
		return
	}
	body, err := io.ReadAll(r.Body)
	var e api.Event
	if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil {
		http.Error(w, "want a JSON event", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.events = append(s.events, e)
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.mu.Unlock()
}

func (s *hookSink) got() ([]api.Event, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]api.Event(nil), s.events...), append([]string(nil), s.auth...)
}

// execEvents reads the events an exec hook appended to file, one JSON
// object a line.
func execEvents(t testing.TB, file string) []api.Event {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []api.Event
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var e api.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("exec hook's output %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// writeFile writes a file of the test's with mode.
func writeFile(t testing.TB, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHooks: a cut of the primary makes the gateway's daemon tell its
// hooks: a webhook inside the gateway's namespace gets the switch and the
// link state change as JSON POSTs with the token of its file, an exec hook
// (a real program, the event on stdin) gets the switch only, as its events
// filter says; the deliveries show in /metrics. Host only: it proves the
// daemon's delivery, not a kernel feature.
func TestHooks(t *testing.T) {
	nstest.HostOnly(t)
	tp := newTopology(t)
	sink := startHookSink(t, tp.gw, false)
	token := writeFile(t, "hook-token", "hook-s3cret\n", 0o600)
	out := filepath.Join(t.TempDir(), "exec-events")
	prog := writeFile(t, "on-event", "#!/bin/sh\n# one event a line\n{ cat; echo; } >> \"$1\"\n", 0o755)
	cfg := fmt.Sprintf(`hooks:
  - name: web
    webhook: {url: %q, bearer_token_file: %q}
  - name: prog
    exec: [%q, %q]
    events: [switch]
`, sink.URL, token, prog, out)
	config := writeFile(t, "config.yaml", cfg, 0o600)
	_, gw := scenario(t, tp, specClientBody(t), "ebpf", "--config", config)

	cut := time.Now()
	setLink(t, tp.hub, "u1", false)
	waitActive(t, gw, "tap2", 30*time.Second)
	isCut := func(e api.Event) bool {
		return e.Kind == api.EventSwitch && e.Bond == "bond0" && e.From == "tap1" && e.To == "tap2" && e.Reason == "down" && !e.At.Before(cut)
	}
	var web, prg []api.Event
	var auth []string
	ok := waitFor(t, 20*time.Second, 100*time.Millisecond, func() bool {
		web, auth = sink.got()
		prg = execEvents(t, out)
		return slices.ContainsFunc(web, isCut) && slices.ContainsFunc(prg, isCut) && slices.ContainsFunc(web, func(e api.Event) bool {
			return e.Kind == api.EventState && e.Link == "tap1" && e.State == api.LinkDown && !e.At.Before(cut)
		})
	})
	if !ok {
		t.Fatalf("after the cut: webhook got %+v, exec hook %+v; want the switch tap1>tap2 (down) in both and tap1's state change down in the webhook", web, prg)
	}
	for _, e := range append(web, prg...) {
		if e.Kind == api.EventSwitch && (e.DetectionMs == nil || e.SwitchMs == nil) {
			t.Errorf("switch event without its durations: %+v", e)
		}
	}
	for _, e := range prg {
		if e.Kind != api.EventSwitch {
			t.Errorf("exec hook got %+v: its events filter is switch only", e)
		}
	}
	for _, a := range auth {
		if a != "Bearer hook-s3cret" {
			t.Errorf("webhook Authorization %q, want the token file's", a)
		}
	}
	t.Logf("webhook got %d events, exec hook %d", len(web), len(prg))

	metrics := scrape(t, gw)
	for _, hook := range []string{"web", "prog"} {
		if n := metricValue(t, metrics, `multilink_hook_deliveries_total{hook="`+hook+`",result="ok"}`); n < 1 {
			t.Errorf("%s: %v deliveries ok, want at least 1", hook, n)
		}
	}
	if strings.Contains(gw.Logs(0), "hook-s3cret") {
		t.Error("the daemon's log holds the hook's token")
	}
	setLink(t, tp.hub, "u1", true)
	waitActive(t, gw, "tap1", 30*time.Second)
}
