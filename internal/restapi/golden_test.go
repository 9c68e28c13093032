package restapi

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/testsupport"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*")

// golden returns the golden file testdata/golden/name, after writing got
// to it with -update.
func golden(t *testing.T, name string, got []byte) []byte {
	t.Helper()
	return testsupport.Golden(t, filepath.Join("testdata", "golden", name), got, *update)
}

// firstDiff returns the 1-based number of the first line where got and
// want differ, and that line of each ("<end>" past the last).
func firstDiff(got, want []byte) (int, string, string) {
	g, w := strings.SplitAfter(string(got), "\n"), strings.SplitAfter(string(want), "\n")
	line := func(l []string, i int) string {
		if i < len(l) {
			return l[i]
		}
		return "<end>"
	}
	i := 0
	for i < len(g) && i < len(w) && g[i] == w[i] {
		i++
	}
	return i + 1, line(g, i), line(w, i)
}

// TestGoldenOpenAPI: GET /v1/api-export serves the document byte for byte.
func TestGoldenOpenAPI(t *testing.T) {
	w := newTestAPI(t).doAuth(http.MethodGet, "/v1/api-export", "", "")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	got := w.Body.Bytes()
	if want := golden(t, "openapi.json", got); !bytes.Equal(got, want) {
		n, g, wl := firstDiff(got, want)
		t.Errorf("served document (%d bytes) differs from testdata/golden/openapi.json (%d bytes) at line %d:\n got: %q\nwant: %q",
			len(got), len(want), n, g, wl)
	}
}

// TestGoldenAnswers: one request per route and method (the router's 21,
// /metrics on a fake handler), then some errors, on the fakes; the status,
// every header (sorted) and the body of each, byte for byte, in
// testdata/golden/answers.txt. Nothing is normalised: the fakes' values
// are fixed, the status routes get a fixed started_at, and the fake event's
// time is the zero time.
func TestGoldenAnswers(t *testing.T) {
	d, rec := fakeDeps(testToken)
	d.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte("multilink_up 1\n"))
	})
	started := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	rec.hub.SetStatuses([]api.ServerStatus{{Bridge: "br0", BridgeIP: "10.8.0.254/24", Present: true, Started: started,
		Links: []api.ServerLink{{Tap: "tap1", Port: 1191, Running: true, Up: true}, {Tap: "tap2", Port: 1192, Restarts: 1}}}})
	rec.gw.SetStatuses([]api.ClientStatus{{Bond: "bond0", Address: "10.8.0.253/24", ServerAPIURL: "http://158.42.89.111:3333", Driver: "kernel",
		Present: true, Active: "tap1", Started: started,
		Links: []api.ClientLink{{Tap: "tap1", HWInt: "eth0", IPServer: "158.42.89.111", Port: 1191, Running: true, Up: true}}},
		{Bond: "bond1", Pending: "not running: 1 failed starts (next attempt in 2s): reach the hub"}})
	a := newTestAPIWith(t, d, rec)

	token, wrong := "Bearer "+testToken, "Bearer not-the-token"
	spec := func(name string) string { return readSpec(t, name) }
	requests := []struct{ method, path, authz, body, about string }{
		{"POST", "/v1/server/start", token, spec("spec_server_start.json"), "body spec_server_start.json"},
		{"GET", "/v1/server/key", token, "", ""},
		{"POST", "/v1/server/stop/br0", token, "", ""},
		{"GET", "/v1/server/status", "", "", ""},
		{"POST", "/v1/client/start", token, spec("spec_client_start.json"), "body spec_client_start.json"},
		{"GET", "/v1/client/status", "", "", ""},
		{"POST", "/v1/client/stop/bond0", token, "", ""},
		{"PUT", "/v1/client/bond_params/bond0", token, spec("spec_bond_params.json"), "body spec_bond_params.json"},
		{"GET", "/v1/client/bond_params/bond0", "", "", ""},
		{"GET", "/v1/client/links", "", "", ""},
		{"GET", "/v1/client/events", "", "", ""},
		{"GET", "/v1/client/policy/bond0", "", "", ""},
		{"PUT", "/v1/client/policy/bond0", token, `{"pin": "tap2", "policy": {"hold_down_ms": 5000}}`, "openapi.json's example"},
		{"POST", "/v1/tap_down/tap1", token, "", ""},
		{"POST", "/v1/tap_up/tap1", token, "", ""},
		{"POST", "/v1/ping_test", token, `{"ip": "10.8.0.254"}`, "openapi.json's example"},
		{"GET", "/v1/api-export", "", "", ""},
		{"GET", "/version", "", "", ""},
		{"GET", "/health", "", "", ""},
		{"GET", "/helth", "", "", ""},
		{"GET", "/metrics", "", "", "a fake metrics handler"},
		// Errors.
		{"POST", "/v1/client/start", token, `{"server_api_url": "http://158.42.89.111:3333", "bond": `, "bad JSON"},
		{"PUT", "/v1/client/bond_params/bond0", token, `{"arp_interval": "often"}`, "bad value"},
		{"PUT", "/v1/client/bond_params/bond0", token, `{}`, "no parameter"},
		{"GET", "/v1/client/policy/bond9", "", "", "unknown bond"},
		{"GET", "/v1/client/events?limit=0", "", "", "bad limit"},
		{"POST", "/v1/server/start", "", spec("spec_server_start.json"), "body spec_server_start.json"},
		{"POST", "/v1/client/stop/bond0", wrong, "", ""},
		{"DELETE", "/v1/server/status", "", "", "method not allowed"},
		{"GET", "/v1/nothing", "", "", "no route"},
	}
	var out bytes.Buffer
	for _, r := range requests {
		w := a.doAuth(r.method, r.path, r.body, r.authz)
		auth := map[string]string{"": "no token", token: "token", wrong: "wrong token"}[r.authz]
		if r.about != "" {
			auth += "; " + r.about
		}
		fmt.Fprintf(&out, "### %s %s (%s)\nstatus: %d\n", r.method, r.path, auth, w.Code)
		h := w.Header()
		for _, k := range slices.Sorted(maps.Keys(h)) {
			for _, v := range h[k] {
				fmt.Fprintf(&out, "%s: %s\n", k, v)
			}
		}
		if r.path == "/v1/api-export" {
			fmt.Fprintf(&out, "body: %d bytes, in testdata/golden/openapi.json\n\n", w.Body.Len())
			continue
		}
		fmt.Fprintf(&out, "body: %d bytes\n%s\n\n", w.Body.Len(), w.Body.Bytes())
	}
	got := out.Bytes()
	want := golden(t, "answers.txt", got)
	if bytes.Equal(got, want) {
		return
	}
	n, g, wl := firstDiff(got, want)
	req := "(before the first request)"
	lines := strings.SplitAfter(string(got), "\n")
	for _, l := range lines[:min(n, len(lines))] {
		if strings.HasPrefix(l, "### ") {
			req = strings.TrimSpace(strings.TrimPrefix(l, "### "))
		}
	}
	t.Errorf("answers differ from testdata/golden/answers.txt, first in request %s (line %d):\n got: %q\nwant: %q",
		req, n, g, wl)
}
