package restapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// testGatewayID is a gateway id as a gateway's state dir names it.
const testGatewayID = "0123456789abcdef"

// claimBody is a valid claim of br0 for bond0.
const claimBody = `{"bridge_interface": "br0", "gateway_id": "` + testGatewayID + `", "bond": "bond0"}`

// releaseBody is the holder's own release.
const releaseBody = `{"gateway_id": "` + testGatewayID + `", "bond": "bond0"}`

// TestServerClaim: a claim with the token reaches the hub as the holder
// it names and answers the key with that holder; without a bridge the hub
// is asked for its only one.
func TestServerClaim(t *testing.T) {
	for _, c := range []struct {
		name, body string
		wantCall   string
	}{
		{"named bridge", claimBody, "hub.Claim br0 " + testGatewayID + "/bond0"},
		{"the only bridge", `{"gateway_id": "gw-1.site_A", "bond": "bond7"}`, "hub.Claim  gw-1.site_A/bond7"},
		{"longest id", `{"gateway_id": "` + strings.Repeat("a", api.MaxGatewayIDLen) + `", "bond": "bond0"}`,
			"hub.Claim  " + strings.Repeat("a", api.MaxGatewayIDLen) + "/bond0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newTestAPI(t)
			w := a.do(http.MethodPost, "/v1/server/claim", c.body)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q on the key, want no-store", cc)
			}
			var k api.Key
			decode(t, w, &k)
			if k.Key == "" || len(k.Links) != 1 || k.Links[0].Port != 1191 {
				t.Errorf("key %+v", k)
			}
			id, bond, _ := strings.Cut(c.wantCall[strings.LastIndex(c.wantCall, " ")+1:], "/")
			if k.Holder == nil || k.Holder.GatewayID != id || k.Holder.Bond != bond {
				t.Errorf("holder %+v, want %s/%s", k.Holder, id, bond)
			}
			// The fake hub's Claim answers with its Key's answer.
			calls := a.rec.Calls()
			if len(calls) == 0 || calls[0] != c.wantCall || slices.ContainsFunc(calls[1:], func(s string) bool { return strings.HasPrefix(s, "hub.Claim") }) {
				t.Errorf("calls %q, want one %q", calls, c.wantCall)
			}
		})
	}
}

// TestServerClaimRefusesBody: a claim whose body is not a valid claim is
// 400 naming the field at fault (when there is one) and never reaches
// the hub; a body over the limit is 413.
func TestServerClaimRefusesBody(t *testing.T) {
	for _, c := range []struct {
		name, body string
		status     int
		field      string
	}{
		{"gateway_id too short", `{"gateway_id": "abc1234", "bond": "bond0"}`, http.StatusBadRequest, "gateway_id"},
		{"gateway_id too long", `{"gateway_id": "` + strings.Repeat("a", api.MaxGatewayIDLen+1) + `", "bond": "bond0"}`, http.StatusBadRequest, "gateway_id"},
		{"gateway_id missing", `{"bond": "bond0"}`, http.StatusBadRequest, "gateway_id"},
		{"gateway_id with a space", `{"gateway_id": "gateway 01", "bond": "bond0"}`, http.StatusBadRequest, "gateway_id"},
		{"gateway_id with a slash", `{"gateway_id": "gateway/01", "bond": "bond0"}`, http.StatusBadRequest, "gateway_id"},
		{"gateway_id not ASCII", `{"gateway_id": "gatewäy01", "bond": "bond0"}`, http.StatusBadRequest, "gateway_id"},
		{"gateway_id a number", `{"gateway_id": 12345678, "bond": "bond0"}`, http.StatusBadRequest, "gateway_id"},
		{"bond missing", `{"gateway_id": "` + testGatewayID + `"}`, http.StatusBadRequest, "bond"},
		{"bond bad name", `{"gateway_id": "` + testGatewayID + `", "bond": "bond 0"}`, http.StatusBadRequest, "bond"},
		{"bridge too long", `{"bridge_interface": "br0123456789abcd", "gateway_id": "` + testGatewayID + `", "bond": "bond0"}`, http.StatusBadRequest, "bridge_interface"},
		{"bridge bad name", `{"bridge_interface": "br0;reboot", "gateway_id": "` + testGatewayID + `", "bond": "bond0"}`, http.StatusBadRequest, "bridge_interface"},
		{"unknown field", `{"gateway_id": "` + testGatewayID + `", "bond": "bond0", "force": true}`, http.StatusBadRequest, "force"},
		{"spec's bridge query name", `{"bridge": "br0", "gateway_id": "` + testGatewayID + `", "bond": "bond0"}`, http.StatusBadRequest, "bridge"},
		{"no body", "", http.StatusBadRequest, ""},
		{"blank body", "  \n", http.StatusBadRequest, ""},
		{"not JSON", `gateway_id=` + testGatewayID, http.StatusBadRequest, ""},
		{"array", `[` + claimBody + `]`, http.StatusBadRequest, ""},
		{"trailing data", claimBody + ` {}`, http.StatusBadRequest, ""},
		{"too large", `{"gateway_id": "` + strings.Repeat("a", 2*DefaultMaxBody) + `", "bond": "bond0"}`, http.StatusRequestEntityTooLarge, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newTestAPI(t)
			e := wantError(t, a.do(http.MethodPost, "/v1/server/claim", c.body), c.status)
			if e.Field != c.field {
				t.Errorf("field %q, want %q (error %q)", e.Field, c.field, e.Error)
			}
			if c.field != "" && !strings.Contains(e.Error, c.field) {
				t.Errorf("error %q does not name %q", e.Error, c.field)
			}
			if calls := a.rec.Calls(); len(calls) != 0 {
				t.Errorf("a refused claim reached %q", calls)
			}
		})
	}
}

// TestServerClaimHubErrors: the hub's refusals map by kind: a bridge held
// by another is 409 with the hub's message, no such bridge 404, a bad
// request 400 with its field, anything else 500 without its details.
func TestServerClaimHubErrors(t *testing.T) {
	const held = "bridge br0 is held by gateway fedcba9876543210 bond bond7 since 2025-01-02T03:04:05Z: one gateway bond per bridge"
	for _, c := range []struct {
		name   string
		err    error
		status int
		msg    string // the answer's error, "" to only check it hides the internal one
		field  string
	}{
		{"held", errkind.Conflict(held), http.StatusConflict, held, ""},
		{"no such bridge", errkind.NotFound("no server with bridge br0 is started"), http.StatusNotFound, "no server with bridge br0 is started", ""},
		{"several bridges", errkind.Invalid("bridge", "2 servers are started: name one with ?bridge="), http.StatusBadRequest,
			"bridge: 2 servers are started: name one with ?bridge=", "bridge"},
		{"internal", errInternalForTest, http.StatusInternalServerError, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newTestAPI(t)
			a.rec.Err = c.err
			e := wantError(t, a.do(http.MethodPost, "/v1/server/claim", claimBody), c.status)
			if c.msg != "" && e.Error != c.msg {
				t.Errorf("error %q, want %q", e.Error, c.msg)
			}
			if e.Field != c.field {
				t.Errorf("field %q, want %q", e.Field, c.field)
			}
			if c.status == http.StatusInternalServerError && (strings.Contains(e.Error, "secret") || !strings.Contains(e.Error, "claim bridge br0")) {
				t.Errorf("internal error answer %q: want the operation, not the details", e.Error)
			}
			if calls := a.rec.Calls(); len(calls) != 1 || calls[0] != "hub.Claim br0 "+testGatewayID+"/bond0" {
				t.Errorf("calls %q", calls)
			}
		})
	}
}

// TestServerRelease: a release without a body (or a blank one) is the
// operator's; with the holder's body it is the holder's own; both answer
// the hub's api.Released.
func TestServerRelease(t *testing.T) {
	for _, c := range []struct {
		name, body string
		wantCall   string
	}{
		{"operator", "", "hub.Release br0 false"},
		{"operator, blank body", " \n\t", "hub.Release br0 false"},
		{"holder", releaseBody, "hub.Release br0 true"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newTestAPI(t)
			w := a.do(http.MethodPost, "/v1/server/release/br0", c.body)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			var r api.Released
			decode(t, w, &r)
			if r.Bridge != "br0" || r.Released != nil {
				t.Errorf("answer %+v", r)
			}
			if calls := a.rec.Calls(); !slices.Equal(calls, []string{c.wantCall}) {
				t.Errorf("calls %q, want %q", calls, c.wantCall)
			}
		})
	}
}

// TestServerReleaseRefuses: a bad bridge name in the path or a body that
// is not a valid release is 400 naming the field, and never reaches the
// hub; the hub's refusals map by kind (another holder 409, no such
// bridge 404).
func TestServerReleaseRefuses(t *testing.T) {
	for _, c := range []struct {
		name, path, body string
		field            string
	}{
		{"bad bridge name", "/v1/server/release/br0;reboot", "", "bridge_interface"},
		{"bridge name too long", "/v1/server/release/br0123456789abcd", "", "bridge_interface"},
		{"gateway_id too short", "/v1/server/release/br0", `{"gateway_id": "abc", "bond": "bond0"}`, "gateway_id"},
		{"gateway_id bad character", "/v1/server/release/br0", `{"gateway_id": "gateway:01", "bond": "bond0"}`, "gateway_id"},
		{"bond missing", "/v1/server/release/br0", `{"gateway_id": "` + testGatewayID + `"}`, "bond"},
		{"empty object", "/v1/server/release/br0", `{}`, "gateway_id"},
		{"unknown field", "/v1/server/release/br0", `{"gateway_id": "` + testGatewayID + `", "bond": "bond0", "bridge_interface": "br0"}`, "bridge_interface"},
		{"not JSON", "/v1/server/release/br0", `release please`, ""},
		{"trailing data", "/v1/server/release/br0", releaseBody + `x`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newTestAPI(t)
			e := wantError(t, a.do(http.MethodPost, c.path, c.body), http.StatusBadRequest)
			if e.Field != c.field {
				t.Errorf("field %q, want %q (error %q)", e.Field, c.field, e.Error)
			}
			if calls := a.rec.Calls(); len(calls) != 0 {
				t.Errorf("a refused release reached %q", calls)
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		a := newTestAPI(t)
		wantError(t, a.do(http.MethodPost, "/v1/server/release/br0", `{"gateway_id": "`+strings.Repeat("a", 2*DefaultMaxBody)+`"}`), http.StatusRequestEntityTooLarge)
		if calls := a.rec.Calls(); len(calls) != 0 {
			t.Errorf("a refused release reached %q", calls)
		}
	})
	for _, c := range []struct {
		name   string
		err    error
		status int
	}{
		{"held by another", errkind.Conflict("bridge br0 is held by gateway fedcba9876543210 bond bond7, not by gateway " + testGatewayID + " bond bond0"), http.StatusConflict},
		{"no such bridge", errkind.NotFound("no server with bridge br0 is started"), http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newTestAPI(t)
			a.rec.Err = c.err
			e := wantError(t, a.do(http.MethodPost, "/v1/server/release/br0", releaseBody), c.status)
			if e.Error != c.err.Error() {
				t.Errorf("error %q, want the hub's %q", e.Error, c.err)
			}
		})
	}
}

// TestClaimReleaseNeedToken: claim and release need the token, checked
// before the body or the path: without it, or with a wrong one, they are
// 401 and reach nothing; they are POSTs only (405 otherwise).
func TestClaimReleaseNeedToken(t *testing.T) {
	for _, c := range []struct{ path, body string }{
		{"/v1/server/claim", claimBody},
		{"/v1/server/claim", `{"gateway_id": "x"}`},
		{"/v1/server/release/br0", ""},
		{"/v1/server/release/br0", releaseBody},
		{"/v1/server/release/br0;reboot", `nonsense`},
	} {
		for _, authz := range []string{"", "Bearer not-the-token", "Basic " + testToken} {
			a := newTestAPI(t)
			w := a.doAuth(http.MethodPost, c.path, c.body, authz)
			wantError(t, w, http.StatusUnauthorized)
			if ch := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") {
				t.Errorf("POST %s with %q: WWW-Authenticate %q", c.path, authz, ch)
			}
			if calls := a.rec.Calls(); len(calls) != 0 {
				t.Errorf("POST %s with %q reached %q", c.path, authz, calls)
			}
		}
	}
	a := newTestAPI(t)
	for _, path := range []string{"/v1/server/claim", "/v1/server/release/br0"} {
		wantError(t, a.do(http.MethodGet, path, ""), http.StatusMethodNotAllowed)
	}
	if calls := a.rec.Calls(); len(calls) != 0 {
		t.Errorf("wrong methods reached %q", calls)
	}
}
