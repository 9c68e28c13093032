package webui

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestServes(t *testing.T) {
	h := Handler()
	for path, want := range map[string]string{
		"/ui/":           "text/html",
		"/ui/index.html": "text/html",
		"/ui/app.js":     "javascript",
		"/ui/style.css":  "text/css",
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		// FileServer answers /ui/index.html with a redirect to /ui/.
		if path == "/ui/index.html" && w.Code == http.StatusMovedPermanently {
			continue
		}
		if w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Content-Type"), want) || w.Header().Get("Content-Security-Policy") != csp {
			t.Errorf("%s: %d %q csp %q", path, w.Code, w.Header().Get("Content-Type"), w.Header().Get("Content-Security-Policy"))
		}
	}
	for _, path := range []string{"/ui/nope.js", "/ui/../webui.go", "/ui/assets/app.js"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, w.Code)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/ui/", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", w.Code)
	}
}

// TestSmall: the page stays under the 300 KB, and loads nothing
// from another origin.
func TestSmall(t *testing.T) {
	n, err := assetsSize()
	if err != nil || n == 0 || n > 300<<10 {
		t.Errorf("assets %d bytes (%v), want some and under 300 KB", n, err)
	}
	for _, name := range []string{"assets/index.html", "assets/app.js", "assets/style.css"} {
		data, err := assets.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if s := string(data); strings.Contains(s, "http://") && !strings.Contains(s, "http://www.w3.org/2000/svg") || strings.Contains(s, "https://") || strings.Contains(s, "//cdn") {
			t.Errorf("%s refers to another origin", name)
		}
	}
}

// assetsSize is the embedded files' total size in bytes.
func assetsSize() (int, error) {
	n := 0
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := assets.ReadFile(p)
		n += len(data)
		return err
	})
	return n, err
}
