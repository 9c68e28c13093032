package restapi

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

func TestTapUpDown(t *testing.T) {
	a := newTestAPI(t)
	for _, tc := range []struct {
		path string
		up   bool
	}{{"/v1/tap_down/tap2", false}, {"/v1/tap_up/tap2", true}} {
		w := a.do(http.MethodPost, tc.path, "")
		var s tapState
		decode(t, w, &s)
		if w.Code != http.StatusOK || s.Tap != "tap2" || s.Up != tc.up {
			t.Errorf("%s: %d %s", tc.path, w.Code, w.Body)
		}
	}
	if c := a.rec.Calls(); !slices.Equal(c, []string{"taps.SetTap tap2 false", "taps.SetTap tap2 true"}) {
		t.Errorf("calls %q", c)
	}
	a.rec.Err = errkind.NotFound("tap eth0 is not managed by multilink")
	wantError(t, a.do(http.MethodPost, "/v1/tap_down/eth0", ""), http.StatusNotFound)
}

func TestPingTest(t *testing.T) {
	a := newTestAPI(t)
	for _, tc := range []struct {
		body string
		want api.PingRequest
	}{
		{`{"ip": "10.8.0.254"}`, api.PingRequest{IP: netip.MustParseAddr("10.8.0.254")}},
		{`{"ip": "2001:db8::1", "count": "3", "interval_ms": 100, "timeout_ms": 500}`,
			api.PingRequest{IP: netip.MustParseAddr("2001:db8::1"), Count: 3, Interval: 100, Timeout: 500}},
	} {
		w := a.do(http.MethodPost, "/v1/ping_test", tc.body)
		var res api.PingResult
		decode(t, w, &res)
		if w.Code != http.StatusOK || res.IP != tc.want.IP.String() || res.Received != 4 {
			t.Errorf("%s: %d %s", tc.body, w.Code, w.Body)
		}
		if a.rec.ping != tc.want {
			t.Errorf("%s: pinger got %+v, want %+v", tc.body, a.rec.ping, tc.want)
		}
	}
}

func TestVersion(t *testing.T) {
	a := newTestAPI(t)
	w := a.doAuth(http.MethodGet, "/version", "", "")
	var v versionBody
	decode(t, w, &v)
	if w.Code != http.StatusOK || v.Version != "1.2.3-test" {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

func TestHealth(t *testing.T) {
	cases := []struct {
		report api.HealthReport
		code   int
	}{
		{api.HealthReport{Status: api.StatusOK}, http.StatusOK},
		{api.HealthReport{Status: api.StatusDegraded, Checks: []api.HealthCheck{{Name: "client/bond0", OK: false, Detail: "tunnels running: 1/2"}}}, http.StatusOK},
		{api.HealthReport{Status: api.StatusDown, Checks: []api.HealthCheck{{Name: "server/br0", Detail: "bridge present: false"}}}, http.StatusServiceUnavailable},
		{api.HealthReport{Status: "confused"}, http.StatusServiceUnavailable},
	}
	for _, tc := range cases {
		for _, path := range []string{"/health", "/helth"} {
			a := newTestAPI(t)
			a.rec.report = tc.report
			w := a.doAuth(http.MethodGet, path, "", "")
			var got api.HealthReport
			decode(t, w, &got)
			if w.Code != tc.code || got.Status != tc.report.Status || got.Checks == nil || len(got.Checks) != len(tc.report.Checks) {
				t.Errorf("%s with %+v: %d %s, want %d", path, tc.report, w.Code, w.Body, tc.code)
			}
		}
	}
}

func TestAPIExport(t *testing.T) {
	a := newTestAPI(t)
	w := a.doAuth(http.MethodGet, "/v1/api-export", "", "")
	var doc map[string]any
	decode(t, w, &doc)
	if w.Code != http.StatusOK || !strings.HasPrefix(doc["openapi"].(string), "3.0") {
		t.Errorf("%d openapi=%v", w.Code, doc["openapi"])
	}
}

func TestMetrics(t *testing.T) {
	d, rec := fakeDeps(testToken)
	d.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte("multilink_up 1\n"))
	})
	a := newTestAPIWith(t, d, rec)
	w := a.doAuth(http.MethodGet, "/metrics", "", "")
	if w.Code != http.StatusOK || w.Body.String() != "multilink_up 1\n" {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	// Without a handler there is no /metrics.
	b := newTestAPI(t)
	wantError(t, b.doAuth(http.MethodGet, "/metrics", "", ""), http.StatusNotFound)
}

// TestStatusBodiesAreObjects: the status answers keep "started" at the top.
func TestStatusBodiesAreObjects(t *testing.T) {
	a := newTestAPI(t)
	for _, p := range []string{"/v1/server/status", "/v1/client/status"} {
		var m map[string]json.RawMessage
		decode(t, a.doAuth(http.MethodGet, p, "", ""), &m)
		if string(m["started"]) != "false" {
			t.Errorf("%s: started=%s", p, m["started"])
		}
	}
}
