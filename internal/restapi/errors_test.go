package restapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/errkind"
)

var errInternalForTest = errors.New("netlink: secret internal detail /var/lib/multilink/keys")

func TestFaultStatus(t *testing.T) {
	cases := []struct {
		err  error
		code int
	}{
		{errkind.Invalid("primary", "bad"), http.StatusBadRequest},
		{errkind.Unauthorized("hub refused"), http.StatusUnauthorized},
		{errkind.NotFound("no server"), http.StatusNotFound},
		{errkind.Conflict("already started"), http.StatusConflict},
		{errkind.Unavailable(errors.New("dial"), "reach the hub"), http.StatusBadGateway},
		{fmt.Errorf("fetch link key: %w", errkind.Unavailable(nil, "reach the hub")), http.StatusBadGateway},
		{fmt.Errorf("start server br0: %w", errkind.Conflict("taken")), http.StatusConflict},
		{errkind.Unsupported(errors.New("EOPNOTSUPP"), "kernel has no bonding driver"), http.StatusNotImplemented},
		// A sentinel wrapped by hand is classified too (a cipher mismatch once answered 500).
		{fmt.Errorf("hub uses cipher BF-CBC: %w", errkind.ErrUnavailable), http.StatusBadGateway},
		{fmt.Errorf("find openvpn: %w", errkind.ErrUnsupported), http.StatusNotImplemented},
		{errInternalForTest, http.StatusInternalServerError},
		{&http.MaxBytesError{Limit: 10}, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range cases {
		if got := statusOf(tc.err); got != tc.code {
			t.Errorf("statusOf(%v) = %d, want %d", tc.err, got, tc.code)
		}
	}
}

// TestFaultStatusThroughHandlers: every endpoint that calls something
// answers each fault kind with its status.
func TestFaultStatusThroughHandlers(t *testing.T) {
	kinds := []struct {
		err  error
		code int
	}{
		{errkind.Invalid("field", "bad value"), 400},
		{errkind.NotFound("not there"), 404},
		{errkind.Conflict("exists"), 409},
		{errkind.Unavailable(nil, "hub unreachable"), 502},
		{errkind.Unsupported(nil, "kernel lacks it"), 501},
		{errInternalForTest, 500},
	}
	endpoints := append(append([]struct{ method, path, body string }{}, guarded...),
		struct{ method, path, body string }{"GET", "/v1/client/bond_params/bond0", ""})
	for _, e := range endpoints {
		for _, k := range kinds {
			a := newTestAPI(t)
			a.rec.Err = k.err
			w := a.do(e.method, e.path, e.body)
			body := wantError(t, w, k.code)
			if k.code == 500 {
				if strings.Contains(body.Error, "secret") {
					t.Errorf("%s %s: internal detail leaked: %q", e.method, e.path, body.Error)
				}
				if !strings.Contains(a.log.String(), "secret internal detail") {
					t.Errorf("%s %s: internal error not logged", e.method, e.path)
				}
			} else if !strings.Contains(body.Error, k.err.Error()) {
				t.Errorf("%s %s: error %q does not say %q", e.method, e.path, body.Error, k.err)
			}
		}
	}
}

// TestInternalErrorNamesTheOperation: the generic 500 says what failed.
func TestInternalErrorNamesTheOperation(t *testing.T) {
	a := newTestAPI(t)
	a.rec.Err = errInternalForTest
	e := wantError(t, a.do("POST", "/v1/client/start", clientBody), 500)
	if !strings.Contains(e.Error, "start client bond bond0") {
		t.Errorf("error %q", e.Error)
	}
}

func TestPanicIs500JSON(t *testing.T) {
	a := newTestAPI(t)
	a.rec.Panics = true
	wantError(t, a.doAuth("GET", "/v1/server/status", "", ""), 500)
	if !strings.Contains(a.log.String(), "panicked") {
		t.Errorf("panic not logged:\n%s", a.log)
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	a := newTestAPI(t)
	for _, p := range []string{"/", "/v1", "/v2/server/start", "/v1/server/start/", "/v1/server/starts", "/helth/"} {
		wantError(t, a.do("GET", p, ""), http.StatusNotFound)
	}
	cases := []struct{ method, path, allow string }{
		{"GET", "/v1/server/start", "POST"},
		{"DELETE", "/v1/server/stop/br0", "POST"},
		{"POST", "/v1/server/status", "GET"},
		{"POST", "/version", "GET"},
		{"DELETE", "/v1/client/bond_params/bond0", "PUT"},
		{"PATCH", "/v1/client/bond_params/bond0", "GET"},
	}
	for _, tc := range cases {
		w := a.do(tc.method, tc.path, "")
		wantError(t, w, http.StatusMethodNotAllowed)
		if allow := w.Header().Get("Allow"); !strings.Contains(allow, tc.allow) {
			t.Errorf("%s %s: Allow %q, want %s in it", tc.method, tc.path, allow, tc.allow)
		}
	}
	if c := a.rec.Calls(); len(c) != 0 {
		t.Errorf("calls %q", c)
	}
}
