package notify

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/config"
)

// script writes an executable shell script (the test's own program: the
// hook's argv names it, no shell is asked to parse anything).
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func realNotifier(t *testing.T, hooks ...config.Hook) *Notifier {
	t.Helper()
	n, err := New(Options{Hooks: hooks, RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	n.Start(t.Context())
	t.Cleanup(func() { n.Close(time.Second) })
	return n
}

// A real program gets the event's JSON on stdin, its argv as given (a
// space and a quote stay in one argument) and the MULTILINK_* variables,
// and not the daemon's environment.
func TestExecReceivesEvent(t *testing.T) {
	t.Setenv("MULTILINK_API_TOKEN", "secret-of-the-daemon")
	out := filepath.Join(t.TempDir(), "out")
	prog := script(t, `cat > "$1.json"; printf '%s\n' "$2" "$MULTILINK_EVENT_TYPE" "$MULTILINK_BOND" "$MULTILINK_TO" "$MULTILINK_API_TOKEN" > "$1.env"`)
	n := realNotifier(t, config.Hook{Name: "prog", Exec: []string{prog, out, `a "b" c`}})
	e := switchEvent("tap2")
	e.At = e.At.UTC().Round(time.Millisecond)
	n.Notify(e)
	eventually(t, "delivered", func() bool { return count(n, "prog", ResultOK) == 1 })
	raw, err := os.ReadFile(out + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var got api.Event
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("stdin is not an event: %v\n%s", err, raw)
	}
	if !got.At.Equal(e.At) || got.Bond != "bond0" || got.Kind != "switch" || got.From != "tap1" || got.To != "tap2" || got.Reason != "down" {
		t.Errorf("stdin %+v, want %+v", got, e)
	}
	env, err := os.ReadFile(out + ".env")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a \"b\" c\nswitch\nbond0\ntap2\n\n"; string(env) != want {
		t.Errorf("argv and environment %q, want %q", env, want)
	}
}

// A program that exits non-zero is tried again; its failures count.
func TestExecFailureRetried(t *testing.T) {
	count0 := filepath.Join(t.TempDir(), "count")
	prog := script(t, `echo x >> "$1"; echo "no luck" >&2; exit 3`)
	n := realNotifier(t, config.Hook{Name: "prog", Exec: []string{prog, count0}, Retries: ptr(2)})
	n.Notify(switchEvent("tap2"))
	eventually(t, "failed", func() bool { return count(n, "prog", ResultFailed) == 1 })
	raw, _ := os.ReadFile(count0)
	if got := strings.Count(string(raw), "x"); got != 3 {
		t.Errorf("ran %d times, want 3", got)
	}
}

// A program that hangs is killed at its timeout with its whole process
// group: the child it started goes too.
func TestExecTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	prog := script(t, `sleep 300 & echo $! > "$1"; wait`)
	n := realNotifier(t, config.Hook{Name: "prog", Exec: []string{prog, pidFile}, TimeoutMs: 300, Retries: ptr(0)})
	n.Notify(switchEvent("tap2"))
	eventually(t, "failed at the timeout", func() bool { return count(n, "prog", ResultFailed) == 1 })
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the hook's child sleep is gone", func() bool {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		// Gone, or a zombie waiting for whoever inherited it.
		return err != nil || strings.Contains(string(stat), ") Z ")
	})
}

// webhookServer records what it is sent and answers with the codes given
// in turn (then 200).
type webhookServer struct {
	mu    sync.Mutex
	codes []int
	reqs  []*http.Request
	body  [][]byte
}

func (s *webhookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.body = append(s.body, b)
	code := http.StatusOK
	if len(s.codes) > 0 {
		code, s.codes = s.codes[0], s.codes[1:]
	}
	s.mu.Unlock()
	w.WriteHeader(code)
}

func (s *webhookServer) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// A real HTTP server gets the event as a JSON POST with the headers and
// the bearer token from its file; a 503 is tried again, a 400 is not.
func TestWebhookPost(t *testing.T) {
	ws := &webhookServer{codes: []int{http.StatusServiceUnavailable}}
	srv := httptest.NewServer(ws)
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := realNotifier(t, config.Hook{Name: "web", Webhook: &config.Webhook{URL: srv.URL + "/hook",
		Headers: map[string]string{"X-Site": "north"}, BearerTokenFile: tokenFile}})
	n.Notify(switchEvent("tap2"))
	eventually(t, "delivered", func() bool { return count(n, "web", ResultOK) == 1 })
	if ws.requests() != 2 {
		t.Fatalf("%d requests, want 2 (a 503, then ok)", ws.requests())
	}
	r := ws.reqs[1]
	if r.Method != http.MethodPost || r.URL.Path != "/hook" || r.Header.Get("Content-Type") != "application/json" ||
		r.Header.Get("Authorization") != "Bearer s3cret" || r.Header.Get("X-Site") != "north" {
		t.Errorf("request %s %s %v", r.Method, r.URL, r.Header)
	}
	var got api.Event
	if err := json.Unmarshal(ws.body[1], &got); err != nil || got.Kind != "switch" || got.To != "tap2" {
		t.Errorf("body %s: %+v %v", ws.body[1], got, err)
	}

	ws.codes = []int{http.StatusBadRequest}
	n.Notify(switchEvent("tap1"))
	eventually(t, "failed", func() bool { return count(n, "web", ResultFailed) == 1 })
	if ws.requests() != 3 {
		t.Errorf("%d requests, want 3: a 400 is not tried again", ws.requests())
	}
}

// An https webhook is trusted through ca_file; without it (the system's
// CAs) the test server's certificate is refused.
func TestWebhookCAFile(t *testing.T) {
	ws := &webhookServer{}
	srv := httptest.NewTLSServer(ws)
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	n := realNotifier(t,
		config.Hook{Name: "ca", Webhook: &config.Webhook{URL: srv.URL, CAFile: caFile}},
		config.Hook{Name: "system", Webhook: &config.Webhook{URL: srv.URL}, Retries: ptr(0)})
	n.Notify(switchEvent("tap2"))
	eventually(t, "ca: delivered", func() bool { return count(n, "ca", ResultOK) == 1 })
	eventually(t, "system: refused", func() bool { return count(n, "system", ResultFailed) == 1 })
}

// A webhook that never answers is given up at the timeout; the error says
// where, without the URL's path (which may be a secret).
func TestWebhookHangs(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stop)
	w, err := newWebhook(config.Webhook{URL: srv.URL + "/T0KEN/path"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = w.deliver(ctx, []byte("{}"), api.Event{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want the deadline", err)
	}
	if err != nil && strings.Contains(err.Error(), "T0KEN") {
		t.Errorf("error names the URL's path: %v", err)
	}
}

// New names the setting whose file or program is missing.
func TestNewNamesSetting(t *testing.T) {
	plain := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(plain, []byte("not a program, not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		hook config.Hook
		want string
	}{
		{config.Hook{Exec: []string{"/nonexistent/prog"}}, "hooks[1].exec[0]"},
		{config.Hook{Exec: []string{plain}}, "hooks[1].exec[0]"},
		{config.Hook{Webhook: &config.Webhook{URL: "https://x.example", BearerTokenFile: "/nonexistent"}}, "hooks[1].webhook.bearer_token_file"},
		{config.Hook{Webhook: &config.Webhook{URL: "https://x.example", CAFile: plain}}, "hooks[1].webhook.ca_file"},
	} {
		_, err := New(Options{Hooks: []config.Hook{{Exec: []string{"/bin/true"}}, c.hook}})
		if err == nil || !strings.HasPrefix(err.Error(), c.want+":") {
			t.Errorf("%+v: %v, want an error naming %s", c.hook, err, c.want)
		}
	}
}
