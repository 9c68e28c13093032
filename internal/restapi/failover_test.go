package restapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLinks(t *testing.T) {
	a := newTestAPI(t)
	var all []map[string]any
	ok(t, a.do("GET", "/v1/client/links", ""), &all)
	if len(all) != 3 || all[0]["link"] != "tap1" {
		t.Fatalf("links %v", all)
	}
	rtt := all[0]["rtt"].(map[string]any)
	if rtt["smoothed_ms"] != 1.0 || all[1]["last_reply_age_ms"] != nil {
		t.Errorf("tap1 rtt %v, tap2 last reply %v", rtt, all[1]["last_reply_age_ms"])
	}
	var one []map[string]any
	ok(t, a.do("GET", "/v1/client/links?bond=bond1", ""), &one)
	if len(one) != 1 || one[0]["link"] != "tap3" {
		t.Errorf("bond1's links: %v", one)
	}
	wantError(t, a.do("GET", "/v1/client/links?bond=a%2Fb", ""), http.StatusBadRequest)
}

func TestEvents(t *testing.T) {
	a := newTestAPI(t)
	var ev []map[string]any
	ok(t, a.do("GET", "/v1/client/events?bond=bond0&limit=5", ""), &ev)
	if len(ev) != 1 || ev[0]["reason"] != "down" || ev[0]["detection_ms"] != 61.0 {
		t.Errorf("events %v", ev)
	}
	if c := a.rec.Calls(); c[len(c)-1] != "failover.Events bond0 5" {
		t.Errorf("calls %v", c)
	}
	ok(t, a.do("GET", "/v1/client/events", ""), &ev)
	if c := a.rec.Calls(); c[len(c)-1] != "failover.Events  100" {
		t.Errorf("default limit: calls %v", c)
	}
	for _, q := range []string{"limit=0", "limit=513", "limit=x", "bond=bo%20nd"} {
		before := len(a.rec.Calls())
		wantError(t, a.do("GET", "/v1/client/events?"+q, ""), http.StatusBadRequest)
		if len(a.rec.Calls()) != before {
			t.Errorf("%s reached the failover engine", q)
		}
	}
}

func TestPolicy(t *testing.T) {
	a := newTestAPI(t)
	var st map[string]any
	ok(t, a.do("GET", "/v1/client/policy/bond0", ""), &st)
	if st["active_link"] != "tap1" || st["probe_interval_ms"] != 20.0 || st["policy"].(map[string]any)["hold_down_ms"] != 2000.0 {
		t.Errorf("policy %v", st)
	}
	wantError(t, a.do("GET", "/v1/client/policy/bond9", ""), http.StatusNotFound)
	ok(t, a.do("PUT", "/v1/client/policy/bond0", `{"pin": "tap2", "policy": {"hold_down_ms": 500}}`), &st)
	if c := a.rec.Calls(); !strings.HasPrefix(c[len(c)-1], `failover.SetPolicy bond0 {"pin": "tap2"`) {
		t.Errorf("calls %v", c)
	}
	for body, field := range map[string]string{
		`{"pni": "tap2"}`:                  "pni",
		`{"policy": {"loss_degraded": 7}}`: "policy.loss_degraded",
		`{"probe_interval_ms": 0.5}`:       "probe_interval_ms",
		`{}`:                               "",
		`[1,2]`:                            "",
	} {
		e := wantError(t, a.do("PUT", "/v1/client/policy/bond0", body), http.StatusBadRequest)
		if e.Field != field {
			t.Errorf("%s: field %q, want %q (%s)", body, e.Field, field, e.Error)
		}
	}
	wantError(t, a.do("PUT", "/v1/client/policy/bond0", ""), http.StatusBadRequest)
	wantError(t, a.do("PUT", "/v1/client/policy/bond0", `{"pin":"`+strings.Repeat("x", DefaultMaxBody)+`"}`), http.StatusRequestEntityTooLarge)
}

// ok decodes a 200 answer into out.
func ok(t *testing.T, w *httptest.ResponseRecorder, out any) {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200 (body %s)", w.Code, w.Body)
	}
	decode(t, w, out)
}
