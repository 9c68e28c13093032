package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/owner"
	"github.com/multilink/multilink/internal/testsupport"
)

// testGatewayID is a gateway id as owner.Load makes them (16 hex digits).
const testGatewayID = "0123456789abcdef"

// hubCall is what a claims-aware fake hub saw of one request.
type hubCall struct {
	method, path, query, auth, ctype, body string
}

// route names a request as "METHOD /path".
func (c hubCall) route() string { return c.method + " " + c.path }

// hubAnswer is a fake hub's answer: status, then body (an api.Key or any
// value as JSON, []byte as is) with Content-Type ctype ("": JSON).
type hubAnswer struct {
	status int
	body   any
	ctype  string
}

// ginNotFound and ginNoMethod are what a gin router without the route
// (a hub without claims) answers by default: plain text, not JSON.
var (
	ginNotFound = hubAnswer{http.StatusNotFound, []byte("404 page not found"), "text/plain"}
	ginNoMethod = hubAnswer{http.StatusMethodNotAllowed, []byte("405 method not allowed"), "text/plain"}
)

// claimsHub is a fake hub answering by route ("POST /v1/server/claim");
// a route it has no answer for gets gin's plain 404. It returns the base
// URL and the requests it saw, in order.
func claimsHub(t *testing.T, answers map[string]hubAnswer) (string, func() []hubCall) {
	t.Helper()
	var mu sync.Mutex
	var calls []hubCall
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		c := hubCall{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, auth: r.Header.Get("Authorization"),
			ctype: r.Header.Get("Content-Type"), body: string(data)}
		mu.Lock()
		calls = append(calls, c)
		mu.Unlock()
		a, ok := answers[c.route()]
		if !ok {
			a = ginNotFound
		}
		body, raw := a.body.([]byte)
		if !raw {
			if body, err = json.Marshal(a.body); err != nil {
				t.Error(err)
			}
		}
		ct := a.ctype
		if ct == "" {
			ct = "application/json; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(a.status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []hubCall {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(calls)
	}
}

// heldKey is a claim's answer: the key with the claimant as holder.
func heldKey(id, bond string) api.Key {
	k := hubKey()
	k.Holder = &api.Holder{GatewayID: id, Bond: bond, Since: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	return k
}

// jsonError is the hub's error answer.
func jsonError(msg string) map[string]string { return map[string]string{"error": msg} }

// TestFetchKeyClaims: a gateway that names itself claims the bridge with
// POST /v1/server/claim, its token and a JSON body of gateway_id, bond
// and (when set) bridge_interface, and gets the answer's key with its
// holder; the spec's GET is not sent.
func TestFetchKeyClaims(t *testing.T) {
	for _, c := range []struct {
		name, bridge string
		wantBody     map[string]string
	}{
		{"named bridge", "br0", map[string]string{"bridge_interface": "br0", "gateway_id": testGatewayID, "bond": "bond0"}},
		{"the only bridge", "", map[string]string{"gateway_id": testGatewayID, "bond": "bond0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, calls := claimsHub(t, map[string]hubAnswer{
				"POST /v1/server/claim": {http.StatusOK, heldKey(testGatewayID, "bond0"), ""},
				"GET /v1/server/key":    {http.StatusOK, hubKey(), ""},
			})
			k, err := HTTPFetcher{}.FetchKey(context.Background(), HubAPI{URL: base + "/", Bridge: c.bridge, Token: "secret-token-0123",
				GatewayID: testGatewayID, Bond: "bond0"})
			if err != nil {
				t.Fatal(err)
			}
			if k.Key != testKey || len(k.Links) != 2 || k.Links[1].Port != 1192 {
				t.Errorf("key %+v", k)
			}
			if k.Holder == nil || k.Holder.GatewayID != testGatewayID || k.Holder.Bond != "bond0" || !k.Holder.Since.Equal(heldKey("", "").Holder.Since) {
				t.Errorf("holder %+v, want %s/bond0", k.Holder, testGatewayID)
			}
			got := calls()
			if len(got) != 1 {
				t.Fatalf("requests %+v, want the claim alone", got)
			}
			r := got[0]
			if r.route() != "POST /v1/server/claim" || r.query != "" || r.auth != "Bearer secret-token-0123" || r.ctype != "application/json" {
				t.Errorf("claim request %+v", r)
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(r.body), &body); err != nil {
				t.Fatalf("claim body %q: %v", r.body, err)
			}
			if !mapsEqual(body, c.wantBody) {
				t.Errorf("claim body %q, want %v", r.body, c.wantBody)
			}
			// What the gateway sends, the hub's strict decoding takes.
			var cr api.ClaimRequest
			if err := json.Unmarshal([]byte(r.body), &cr); err != nil {
				t.Errorf("the hub would refuse the claim %q: %v", r.body, err)
			}
		})
	}
}

// mapsEqual compares two string maps.
func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestFetchKeyClaimFallback: a hub without the claim endpoint (gin's
// plain 404 or 405, an older multilink's JSON "no endpoint") is asked the
// spec's way, GET /v1/server/key[?bridge=], and its key is taken; a hub
// that has the endpoint and answers 404 "no server ..." is not asked
// again: the error names the 404 and the hub's message.
func TestFetchKeyClaimFallback(t *testing.T) {
	for _, c := range []struct {
		name      string
		bridge    string
		claim     hubAnswer
		fallback  bool
		wantQuery string   // of the GET, when it falls back
		wantErr   []string // in the error, when it does not
	}{
		{"gin 404", "br0", ginNotFound, true, "bridge=br0", nil},
		{"gin 404, only bridge", "", ginNotFound, true, "", nil},
		{"gin 405", "br0", ginNoMethod, true, "bridge=br0", nil},
		{"JSON 405", "br0", hubAnswer{http.StatusMethodNotAllowed, jsonError("method POST is not allowed on /v1/server/claim (allowed: GET)"), ""}, true, "bridge=br0", nil},
		{"older multilink", "br0", hubAnswer{http.StatusNotFound, jsonError("no endpoint POST /v1/server/claim"), ""}, true, "bridge=br0", nil},
		{"empty 404", "br0", hubAnswer{http.StatusNotFound, []byte{}, "text/plain"}, true, "bridge=br0", nil},
		{"no such bridge", "br0", hubAnswer{http.StatusNotFound, jsonError("no server with bridge br0 is started"), ""}, false, "",
			[]string{"404", "no server started there", "no server with bridge br0 is started"}},
		{"no server at all", "", hubAnswer{http.StatusNotFound, jsonError("no server is started"), ""}, false, "",
			[]string{"404", "no server is started"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, calls := claimsHub(t, map[string]hubAnswer{
				"POST /v1/server/claim": c.claim,
				"GET /v1/server/key":    {http.StatusOK, hubKey(), ""},
			})
			k, err := HTTPFetcher{}.FetchKey(context.Background(), HubAPI{URL: base, Bridge: c.bridge, Token: "tok-0123456789",
				GatewayID: testGatewayID, Bond: "bond0"})
			got := calls()
			if len(got) == 0 || got[0].route() != "POST /v1/server/claim" {
				t.Fatalf("requests %+v, want the claim first", got)
			}
			if !c.fallback {
				if len(got) != 1 {
					t.Errorf("requests %+v, want no fallback", got)
				}
				if err == nil {
					t.Fatalf("a 404 of a hub with claims was taken: %+v", k)
				}
				if errkind.KindOf(err) != errkind.KindUnavailable {
					t.Errorf("err %v (kind %d), want unavailable", err, errkind.KindOf(err))
				}
				for _, w := range c.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("fallback: %v (requests %+v)", err, got)
			}
			if k.Key != testKey || len(k.Links) != 2 || k.Holder != nil {
				t.Errorf("key %+v", k)
			}
			want := hubCall{method: "GET", path: "/v1/server/key", query: c.wantQuery, auth: "Bearer tok-0123456789"}
			if len(got) != 2 || got[1] != want {
				t.Errorf("requests %+v, want the claim then %+v", got, want)
			}
		})
	}
}

// TestFetchKeyClaimRefused: a bridge held by another is a 409 the gateway
// reports as errkind.Conflict carrying the hub's message (the holder);
// other refusals are the hub being unavailable, naming the status; none
// falls back to GET. A 409 to the fallback GET is a conflict too.
func TestFetchKeyClaimRefused(t *testing.T) {
	const held = "bridge br0 is held by gateway fedcba9876543210 bond bond7 since 2025-01-02T03:04:05Z"
	for _, c := range []struct {
		name     string
		answers  map[string]hubAnswer
		kind     errkind.Kind
		requests int
		namesHub bool     // the error names the hub's URL
		want     []string // in the error
	}{
		{"held", map[string]hubAnswer{"POST /v1/server/claim": {http.StatusConflict, jsonError(held), ""}},
			errkind.KindConflict, 1, true, []string{"refused", held}},
		{"held, fallback", map[string]hubAnswer{"GET /v1/server/key": {http.StatusConflict, jsonError(held), ""}},
			errkind.KindConflict, 2, true, []string{held}},
		{"token refused", map[string]hubAnswer{"POST /v1/server/claim": {http.StatusUnauthorized, jsonError("the bearer token is wrong"), ""}},
			errkind.KindUnavailable, 1, true, []string{"401", "rejected our token", "the bearer token is wrong"}},
		{"bad claim", map[string]hubAnswer{"POST /v1/server/claim": {http.StatusBadRequest, jsonError("bond: interface name is empty"), ""}},
			errkind.KindUnavailable, 1, true, []string{"400", "bond: interface name is empty"}},
		{"internal", map[string]hubAnswer{"POST /v1/server/claim": {http.StatusInternalServerError, jsonError("claim bridge br0: internal error"), ""}},
			errkind.KindUnavailable, 1, true, []string{"500", "claim bridge br0: internal error"}},
		{"proxy", map[string]hubAnswer{"POST /v1/server/claim": {http.StatusBadGateway, []byte("<html>proxy</html>"), "text/html"}},
			errkind.KindUnavailable, 1, true, []string{"502"}},
		{"bad key", map[string]hubAnswer{"POST /v1/server/claim": {http.StatusOK, func() api.Key { k := heldKey(testGatewayID, "bond0"); k.Key = "nope"; return k }(), ""}},
			errkind.KindUnavailable, 1, false, []string{"no valid key"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, calls := claimsHub(t, c.answers)
			_, err := HTTPFetcher{}.FetchKey(context.Background(), HubAPI{URL: base, Bridge: "br0", Token: "t",
				GatewayID: testGatewayID, Bond: "bond0"})
			if errkind.KindOf(err) != c.kind {
				t.Fatalf("err %v (kind %d), want kind %d", err, errkind.KindOf(err), c.kind)
			}
			if c.kind == errkind.KindConflict && !errors.Is(err, errkind.ErrConflict) {
				t.Errorf("errors.Is(err, ErrConflict) false: %v", err)
			}
			if c.namesHub && !strings.Contains(err.Error(), base) {
				t.Errorf("error %q does not name the hub %s", err, base)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if got := calls(); len(got) != c.requests {
				t.Errorf("requests %+v, want %d", got, c.requests)
			}
		})
	}
}

// TestFetchKeyAnonymous: without a gateway id (no state dir mark) only
// the spec's GET /v1/server/key is sent, whatever the bond.
func TestFetchKeyAnonymous(t *testing.T) {
	base, calls := claimsHub(t, map[string]hubAnswer{
		"POST /v1/server/claim": {http.StatusOK, heldKey(testGatewayID, "bond0"), ""},
		"GET /v1/server/key":    {http.StatusOK, hubKey(), ""},
	})
	k, err := HTTPFetcher{}.FetchKey(context.Background(), HubAPI{URL: base, Bridge: "br0", Token: "t", Bond: "bond0"})
	if err != nil {
		t.Fatal(err)
	}
	if k.Holder != nil {
		t.Errorf("anonymous key has holder %+v", k.Holder)
	}
	want := []hubCall{{method: "GET", path: "/v1/server/key", query: "bridge=br0", auth: "Bearer t"}}
	if got := calls(); !slices.Equal(got, want) {
		t.Errorf("requests %+v, want %+v", got, want)
	}
}

// TestRelease: a release is POST /v1/server/release/<bridge> with the
// token and the holder's {"gateway_id", "bond"}; 200, and the 404 or 405
// of a hub that no longer has the bridge or never had claims, are done;
// 409 (another holds it) is errkind.Conflict with the hub's message;
// other statuses and an unreachable hub are errors.
func TestRelease(t *testing.T) {
	const other = "bridge br0 is held by gateway fedcba9876543210 bond bond7, not by gateway " + testGatewayID + " bond bond0"
	for _, c := range []struct {
		name   string
		answer hubAnswer
		kind   errkind.Kind // of the error; -1: none
		want   []string
	}{
		{"released", hubAnswer{http.StatusOK, api.Released{Bridge: "br0", Released: heldKey(testGatewayID, "bond0").Holder}, ""}, -1, nil},
		{"nobody held it", hubAnswer{http.StatusOK, api.Released{Bridge: "br0"}, ""}, -1, nil},
		{"bridge gone", hubAnswer{http.StatusNotFound, jsonError("no server with bridge br0 is started"), ""}, -1, nil},
		{"no claims here", ginNotFound, -1, nil},
		{"no claims here, 405", ginNoMethod, -1, nil},
		{"held by another", hubAnswer{http.StatusConflict, jsonError(other), ""}, errkind.KindConflict, []string{"refused", other}},
		{"internal", hubAnswer{http.StatusInternalServerError, jsonError("release bridge br0: internal error"), ""}, errkind.KindUnavailable,
			[]string{"500", "release bridge br0: internal error"}},
		{"token refused", hubAnswer{http.StatusUnauthorized, jsonError("the bearer token is wrong"), ""}, errkind.KindUnavailable,
			[]string{"401", "the bearer token is wrong"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, calls := claimsHub(t, map[string]hubAnswer{"POST /v1/server/release/br0": c.answer})
			err := HTTPFetcher{}.Release(context.Background(), HubAPI{URL: base + "/", Bridge: "br0", Token: "secret-token-0123",
				GatewayID: testGatewayID, Bond: "bond0"}, "br0")
			switch {
			case c.kind < 0 && err != nil:
				t.Errorf("release: %v, want done", err)
			case c.kind >= 0 && errkind.KindOf(err) != c.kind:
				t.Errorf("release: %v (kind %d), want kind %d", err, errkind.KindOf(err), c.kind)
			case c.kind == errkind.KindConflict && !errors.Is(err, errkind.ErrConflict):
				t.Errorf("errors.Is(err, ErrConflict) false: %v", err)
			}
			for _, w := range c.want {
				if err != nil && !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			got := calls()
			if len(got) != 1 {
				t.Fatalf("requests %+v, want one", got)
			}
			r := got[0]
			if r.route() != "POST /v1/server/release/br0" || r.query != "" || r.auth != "Bearer secret-token-0123" || r.ctype != "application/json" {
				t.Errorf("release request %+v", r)
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(r.body), &body); err != nil {
				t.Fatalf("release body %q: %v", r.body, err)
			}
			if want := map[string]string{"gateway_id": testGatewayID, "bond": "bond0"}; !mapsEqual(body, want) {
				t.Errorf("release body %q, want %v", r.body, want)
			}
			var rr api.ReleaseRequest
			if err := json.Unmarshal([]byte(r.body), &rr); err != nil {
				t.Errorf("the hub would refuse the release %q: %v", r.body, err)
			}
		})
	}
}

// TestReleaseUnreachable: a hub that cannot be reached is an unavailable
// error, not a release.
func TestReleaseUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	err := HTTPFetcher{}.Release(context.Background(), HubAPI{URL: base, GatewayID: testGatewayID, Bond: "bond0"}, "br0")
	if errkind.KindOf(err) != errkind.KindUnavailable {
		t.Errorf("closed hub: %v, want unavailable", err)
	}
}

// claimFetcher is the test fetcher recording how it is asked: the hub of
// every FetchKey, and whether Release got a live context with a deadline;
// its Release fails with releaseErr when set.
type claimFetcher struct {
	*fetcher
	hubs       []HubAPI
	releaseErr error
	releaseCtx []string // per Release: "live" or the context's error, "+deadline" if it has one
}

func (f *claimFetcher) FetchKey(ctx context.Context, hub HubAPI) (api.Key, error) {
	f.hubs = append(f.hubs, hub)
	return f.fetcher.FetchKey(ctx, hub)
}

func (f *claimFetcher) Release(ctx context.Context, hub HubAPI, bridge string) error {
	state := "live"
	if ctx.Err() != nil {
		state = ctx.Err().Error()
	}
	if _, ok := ctx.Deadline(); ok {
		state += "+deadline"
	}
	f.releaseCtx = append(f.releaseCtx, state)
	if f.releaseErr != nil {
		return f.releaseErr
	}
	return f.fetcher.Release(ctx, hub, bridge)
}

// claimGateway is a gateway on w asking f, marked by mark ("": none),
// logging into log.
func claimGateway(t *testing.T, w *world, f KeyFetcher, mark owner.Mark, log *bytes.Buffer) *Gateway {
	return newGateway(Options{Tunnels: w, Fetcher: f, KeyDir: t.TempDir(), Token: "daemon-token", Mark: mark,
		Logger: slog.New(slog.NewTextHandler(log, nil))}, w, bondDriver{w}, nil)
}

// TestStopReleasesClaim: a gateway with a state dir mark claims as its
// instance id and the bond, and the stop of that client releases the
// hub's bridge as "<instance>/<bond>@<bridge>", with a context of its own
// even when the stop's has ended; a gateway without a mark claims nothing
// and releases nothing; a release that fails is logged and does not fail
// the stop; the daemon's shutdown (Close) keeps the claim for its next
// start, as the hub keeps its own.
func TestStopReleasesClaim(t *testing.T) {
	const mark = owner.Mark("multilink:" + testGatewayID)
	if mark.Instance() != testGatewayID {
		t.Fatalf("mark %q has instance %q", mark, mark.Instance())
	}
	for _, c := range []struct {
		name       string
		mark       owner.Mark
		releaseErr error
		close      bool            // stop by Close rather than Stop
		stopCtx    context.Context // nil: Background
		wantID     string
		wantRel    []string
		wantCtx    []string
		wantLog    []string
	}{
		{name: "marked", mark: mark, wantID: testGatewayID, wantRel: []string{testGatewayID + "/bond0@br0"}, wantCtx: []string{"live+deadline"}},
		{name: "marked, stop context ended", mark: mark, stopCtx: canceled(), wantID: testGatewayID,
			wantRel: []string{testGatewayID + "/bond0@br0"}, wantCtx: []string{"live+deadline"}},
		{name: "marked, closed", mark: mark, close: true, wantID: testGatewayID}, // the shutdown keeps the claim
		{name: "release fails", mark: mark, releaseErr: errkind.Unavailable(errors.New("connection refused"), "reach the hub API at http://158.42.89.111:3333"),
			wantID: testGatewayID, wantCtx: []string{"live+deadline"},
			wantLog: []string{"level=WARN", "could not release", "bond=bond0", "bridge=br0", "connection refused"}},
		{name: "unmarked", mark: "", wantID: ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld("eth0", "wlan0")
			f := &claimFetcher{fetcher: &fetcher{}, releaseErr: c.releaseErr}
			var log bytes.Buffer
			g := claimGateway(t, w, f, c.mark, &log)
			if _, err := g.Start(context.Background(), testsupport.SpecClient(t)); err != nil {
				t.Fatal(err)
			}
			if len(f.hubs) != 1 || f.hubs[0].GatewayID != c.wantID || f.hubs[0].Bond != "bond0" || f.hubs[0].Token != "daemon-token" {
				t.Fatalf("hub asked as %+v, want gateway id %q bond bond0", f.hubs, c.wantID)
			}
			if len(f.released) != 0 || len(f.releaseCtx) != 0 {
				t.Fatalf("released at start: %q", f.released)
			}
			ctx := c.stopCtx
			if ctx == nil {
				ctx = context.Background()
			}
			var err error
			if c.close {
				err = g.Close(ctx)
			} else {
				err = g.Stop(ctx, "bond0")
			}
			if err != nil {
				t.Fatalf("stop: %v", err)
			}
			if !slices.Equal(f.released, c.wantRel) {
				t.Errorf("released %q, want %q", f.released, c.wantRel)
			}
			if !slices.Equal(f.releaseCtx, c.wantCtx) {
				t.Errorf("release contexts %q, want %q", f.releaseCtx, c.wantCtx)
			}
			for _, want := range c.wantLog {
				if !strings.Contains(log.String(), want) {
					t.Errorf("log does not say %q:\n%s", want, log.String())
				}
			}
			if len(c.wantLog) == 0 && strings.Contains(log.String(), "could not release") {
				t.Errorf("release warning without a failure:\n%s", log.String())
			}
			if len(w.Routes())+len(w.Rules())+len(w.tunnels)+len(w.bonds) != 0 {
				t.Errorf("left after stop: %v %v %v %v", w.Routes(), w.Rules(), w.tunnels, w.bonds)
			}
		})
	}
}

// canceled is a context that has ended.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
