package restapi

import (
	"net/http"
	"strings"
	"testing"
)

// guarded are the endpoints that need the token, each with a valid request.
var guarded = []struct{ method, path, body string }{
	{"POST", "/v1/server/start", `{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": "2"}`},
	{"GET", "/v1/server/key", ""},
	{"POST", "/v1/server/stop/br0", ""},
	{"POST", "/v1/client/start", clientBody},
	{"POST", "/v1/client/stop/bond0", ""},
	{"PUT", "/v1/client/bond_params/bond0", `{"primary": "tap2", "arp_interval": "50"}`},
	{"POST", "/v1/tap_down/tap1", ""},
	{"POST", "/v1/tap_up/tap1", ""},
	{"POST", "/v1/ping_test", `{"ip": "10.8.0.254"}`},
	{"PUT", "/v1/client/policy/bond0", `{"pin": "tap2"}`},
}

// open are the reads anyone may do.
var open = []struct{ method, path string }{
	{"GET", "/v1/server/status"},
	{"GET", "/v1/client/status"},
	{"GET", "/v1/client/bond_params/bond0"},
	{"GET", "/v1/api-export"},
	{"GET", "/version"},
	{"GET", "/health"},
	{"GET", "/helth"},
	{"GET", "/v1/client/links"},
	{"GET", "/v1/client/events"},
	{"GET", "/v1/client/policy/bond0"},
}

func TestAuth(t *testing.T) {
	headers := []struct {
		name, value string
		ok          bool
		challenge   string
	}{
		{"no header", "", false, `Bearer realm="multilink"`},
		{"wrong scheme", "Basic " + testToken, false, `error="invalid_request"`},
		{"token without scheme", testToken, false, `error="invalid_request"`},
		{"scheme without token", "Bearer", false, `error="invalid_token"`},
		{"wrong token", "Bearer not-the-token", false, `error="invalid_token"`},
		{"token prefix", "Bearer " + testToken[:len(testToken)-1], false, `error="invalid_token"`},
		{"token with suffix", "Bearer " + testToken + "x", false, `error="invalid_token"`},
		{"right token", "Bearer " + testToken, true, ""},
		{"lower-case scheme", "bearer " + testToken, true, ""},
		{"extra spaces", "  Bearer   " + testToken + "  ", true, ""},
	}
	for _, g := range guarded {
		for _, h := range headers {
			t.Run(g.method+" "+g.path+" "+h.name, func(t *testing.T) {
				a := newTestAPI(t)
				w := a.doAuth(g.method, g.path, g.body, h.value)
				if h.ok {
					if w.Code != http.StatusOK {
						t.Fatalf("%d %s", w.Code, w.Body)
					}
					if len(a.rec.Calls()) != 1 {
						t.Errorf("calls %q", a.rec.Calls())
					}
					return
				}
				wantError(t, w, http.StatusUnauthorized)
				if c := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(c, "Bearer ") || !strings.Contains(c, h.challenge) {
					t.Errorf("WWW-Authenticate %q, want it to contain %q", c, h.challenge)
				}
				if c := a.rec.Calls(); len(c) != 0 {
					t.Errorf("unauthenticated request reached %q", c)
				}
				if strings.Contains(a.log.String(), testToken[4:]) || strings.Contains(a.log.String(), "not-the-token") {
					t.Errorf("a token is in the log:\n%s", a.log)
				}
			})
		}
	}
}

// TestAuthBeforeValidation: an unauthenticated bad request learns nothing
// about its body or names: 401, not 400.
func TestAuthBeforeValidation(t *testing.T) {
	a := newTestAPI(t)
	wantError(t, a.doAuth("POST", "/v1/server/start", `{"nonsense": 1}`, ""), http.StatusUnauthorized)
	wantError(t, a.doAuth("POST", "/v1/tap_up/tap1;reboot", "", "Bearer nope"), http.StatusUnauthorized)
	wantError(t, a.doAuth("POST", "/v1/server/start", strings.Repeat("x", 2*DefaultMaxBody), ""), http.StatusUnauthorized)
}

func TestOpenReads(t *testing.T) {
	for _, authz := range []string{"", "Bearer wrong", "Bearer " + testToken} {
		a := newTestAPI(t)
		for _, o := range open {
			if w := a.doAuth(o.method, o.path, "", authz); w.Code != http.StatusOK {
				t.Errorf("%s %s with %q: %d %s", o.method, o.path, authz, w.Code, w.Body)
			}
		}
	}
}

func TestInsecureMode(t *testing.T) {
	d, rec := fakeDeps("")
	if !d.Insecure {
		t.Fatal("fakeDeps without a token must be insecure")
	}
	a := newTestAPIWith(t, d, rec)
	for _, g := range guarded {
		if w := a.doAuth(g.method, g.path, g.body, ""); w.Code != http.StatusOK {
			t.Errorf("%s %s without auth in insecure mode: %d %s", g.method, g.path, w.Code, w.Body)
		}
	}
	if !strings.Contains(a.log.String(), "authentication is off") {
		t.Errorf("no warning about the open API in the log:\n%s", a.log)
	}
}

// TestTokenWinsOverInsecure: a token with Insecure set still guards.
func TestTokenWinsOverInsecure(t *testing.T) {
	d, rec := fakeDeps(testToken)
	d.Insecure = true
	a := newTestAPIWith(t, d, rec)
	wantError(t, a.doAuth("POST", "/v1/tap_up/tap1", "", ""), http.StatusUnauthorized)
}

// TestTokenNeverLogged: nothing the API logs contains the token, across
// right and wrong requests at debug level.
func TestTokenNeverLogged(t *testing.T) {
	a := newTestAPI(t)
	for _, g := range guarded {
		a.do(g.method, g.path, g.body)
		a.doAuth(g.method, g.path, g.body, "Bearer wrong-"+testToken)
	}
	a.rec.Err = errInternalForTest
	a.do("POST", "/v1/server/start", guarded[0].body)
	if a.log.Len() == 0 {
		t.Fatal("nothing was logged")
	}
	if strings.Contains(a.log.String(), testToken) {
		t.Errorf("the token is in the log:\n%s", a.log)
	}
}
