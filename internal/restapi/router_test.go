package restapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/testsupport"
)

const testToken = "s3cret-test-token-0123456789"

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// testAPI is a router on fakes, with the token.
type testAPI struct {
	t   testing.TB
	h   http.Handler
	rec *fakes
	log *bytes.Buffer
}

func newTestAPI(t testing.TB) *testAPI {
	t.Helper()
	d, rec := fakeDeps(testToken)
	return newTestAPIWith(t, d, rec)
}

func newTestAPIWith(t testing.TB, d Deps, rec *fakes) *testAPI {
	t.Helper()
	var buf bytes.Buffer
	d.Logger = slog.New(slog.NewTextHandler(&syncWriter{w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := NewRouter(d)
	if err != nil {
		t.Fatalf("NewRouter: %v", err)
	}
	return &testAPI{t: t, h: r, rec: rec, log: &buf}
}

// do sends a request with the test token.
func (a *testAPI) do(method, path, body string) *httptest.ResponseRecorder {
	return a.doAuth(method, path, body, "Bearer "+testToken)
}

// doAuth sends a request with the given Authorization header ("" none).
func (a *testAPI) doAuth(method, path, body, authz string) *httptest.ResponseRecorder {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, req)
	return w
}

// decode decodes w's JSON body into v, failing the test if it is not JSON.
func decode(t testing.TB, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json (body %s)", ct, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, w.Body)
	}
}

// wantError checks an error answer: status, JSON {"error": non-empty}.
func wantError(t testing.TB, w *httptest.ResponseRecorder, status int) api.Error {
	t.Helper()
	if w.Code != status {
		t.Errorf("status %d, want %d (body %s)", w.Code, status, w.Body)
	}
	var e api.Error
	decode(t, w, &e)
	if e.Error == "" {
		t.Errorf("error answer without an error message: %s", w.Body)
	}
	return e
}

// readSpec is the spec's example body name, as a request body.
func readSpec(t testing.TB, name string) string {
	t.Helper()
	return string(testsupport.SpecBody(t, name))
}

// syncWriter serialises writes from concurrent handlers.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestNewRouterRefuses(t *testing.T) {
	ok, _ := fakeDeps(testToken)
	cases := map[string]func(d *Deps){
		"no token, not insecure": func(d *Deps) { d.Token = ""; d.Insecure = false },
		"token with a space":     func(d *Deps) { d.Token = "abc def" },
		"token with a newline":   func(d *Deps) { d.Token = "abcdef\n" },
		"no hub":                 func(d *Deps) { d.Hub = nil },
		"no gateway":             func(d *Deps) { d.Gateway = nil },
		"no taps":                func(d *Deps) { d.Taps = nil },
		"no pinger":              func(d *Deps) { d.Pinger = nil },
		"no health":              func(d *Deps) { d.Health = nil },
		"negative body limit":    func(d *Deps) { d.MaxBody = -1 },
	}
	for name, mutate := range cases {
		d := ok
		mutate(&d)
		if _, err := NewRouter(d); err == nil {
			t.Errorf("%s: NewRouter accepted it", name)
		}
	}
	if _, err := NewRouter(ok); err != nil {
		t.Errorf("valid deps: %v", err)
	}
}

// TestWebPageRouted: the web page answers at /ui/ without a token, with
// its Content-Security-Policy; /ui redirects there.
func TestWebPageRouted(t *testing.T) {
	d, _ := fakeDeps(testToken)
	r, err := NewRouter(d)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/ui/", nil))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `<script src="app.js"`) || !strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("GET /ui/: %d %q", w.Code, w.Header())
	}
	w = httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/ui", nil))
	if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d %q", w.Code, w.Header().Get("Location"))
	}
}
