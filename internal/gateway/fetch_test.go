package gateway

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/tunnel"
)

// hubKey is a good answer of GET /v1/server/key.
func hubKey() api.Key {
	return api.Key{Bridge: "br0", BridgeIP: "10.8.0.254", Key: testKey, Cipher: tunnel.Cipher, Auth: tunnel.Auth,
		Links: []api.KeyLink{{Tap: "tap1", Port: 1191}, {Tap: "tap2", Port: 1192}}}
}

// request is what a fake hub saw of a key request.
type request struct {
	path, query, auth string
}

// fakeHub serves answer (an api.Key or raw bytes) with status, recording
// the requests it gets.
func fakeHub(t *testing.T, status int, answer any) (*httptest.Server, *[]request) {
	t.Helper()
	var got []request
	srv := httptest.NewServer(hubHandler(t, status, answer, &got))
	t.Cleanup(srv.Close)
	return srv, &got
}

func hubHandler(t *testing.T, status int, answer any, got *[]request) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*got = append(*got, request{path: r.URL.Path, query: r.URL.RawQuery, auth: r.Header.Get("Authorization")})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		body, ok := answer.([]byte)
		if !ok {
			var err error
			if body, err = json.Marshal(answer); err != nil {
				t.Error(err)
			}
		}
		_, _ = w.Write(body)
	})
}

func TestFetchKey(t *testing.T) {
	srv, got := fakeHub(t, http.StatusOK, hubKey())
	k, err := HTTPFetcher{}.FetchKey(context.Background(), HubAPI{URL: srv.URL + "/", Bridge: "br0", Token: "secret-token-0123"})
	if err != nil {
		t.Fatal(err)
	}
	if k.Bridge != "br0" || len(k.Links) != 2 || k.Links[1].Port != 1192 || k.Key != testKey {
		t.Errorf("key %+v", k)
	}
	want := request{path: "/v1/server/key", query: "bridge=br0", auth: "Bearer secret-token-0123"}
	if len(*got) != 1 || (*got)[0] != want {
		t.Errorf("requests %+v, want one %+v", *got, want)
	}
	// No bridge: no query; no token: no Authorization header.
	if _, err := (HTTPFetcher{}).FetchKey(context.Background(), HubAPI{URL: srv.URL, Bridge: "", Token: ""}); err != nil {
		t.Fatal(err)
	}
	if r := (*got)[1]; r.query != "" || r.auth != "" {
		t.Errorf("request without bridge and token: %+v", r)
	}
}

func TestFetchKeyIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("skipped: no IPv6 loopback here: %v", err)
	}
	var got []request
	srv := httptest.NewUnstartedServer(hubHandler(t, http.StatusOK, hubKey(), &got))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	base := "http://" + ln.Addr().String() // http://[::1]:port
	if !strings.HasPrefix(base, "http://[::1]:") {
		t.Fatalf("base %s", base)
	}
	if _, err := (HTTPFetcher{}).FetchKey(context.Background(), HubAPI{URL: base, Bridge: "br0", Token: "t"}); err != nil {
		t.Fatalf("fetch from %s: %v", base, err)
	}
	if len(got) != 1 || got[0].query != "bridge=br0" {
		t.Errorf("requests %+v", got)
	}
}

func TestFetchKeyBadAnswers(t *testing.T) {
	mod := func(f func(k *api.Key)) api.Key {
		k := hubKey()
		f(&k)
		return k
	}
	for _, c := range []struct {
		name   string
		status int
		answer any
		want   []string // in the error's text
	}{
		{"token refused", http.StatusUnauthorized, map[string]string{"error": "the bearer token is wrong"},
			[]string{"401", "rejected our token", "the bearer token is wrong"}},
		{"no server", http.StatusNotFound, map[string]string{"error": "no server is started"},
			[]string{"404", "no server started there", "no server is started"}},
		{"server error", http.StatusInternalServerError, map[string]string{"error": "get key: internal error"},
			[]string{"500", "get key: internal error"}},
		{"not JSON error", http.StatusBadGateway, []byte("<html>proxy</html>"), []string{"502"}},
		{"oversize", http.StatusOK, []byte(`{"key":"` + strings.Repeat("0", maxKeyResponse) + `"}`), []string{"larger than"}},
		{"not JSON", http.StatusOK, []byte("hello"), []string{"decode"}},
		{"invalid key", http.StatusOK, mod(func(k *api.Key) { k.Key = "not a key" }), []string{"no valid key"}},
		{"no links", http.StatusOK, mod(func(k *api.Key) { k.Links = nil }), []string{"no links"}},
		{"port 0", http.StatusOK, mod(func(k *api.Key) { k.Links[1].Port = 0 }), []string{"tap2", "port 0"}},
		{"port too big", http.StatusOK, mod(func(k *api.Key) { k.Links[0].Port = 70000 }), []string{"port 70000"}},
		{"cipher", http.StatusOK, mod(func(k *api.Key) { k.Cipher = "BF-CBC" }), []string{"cipher BF-CBC", tunnel.Cipher}},
		{"auth", http.StatusOK, mod(func(k *api.Key) { k.Auth = "SHA1" }), []string{"auth SHA1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := fakeHub(t, c.status, c.answer)
			_, err := HTTPFetcher{}.FetchKey(context.Background(), HubAPI{URL: srv.URL, Bridge: "", Token: "t"})
			if errkind.KindOf(err) != errkind.KindUnavailable {
				t.Fatalf("err %v (kind %d), want unavailable", err, errkind.KindOf(err))
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestFetchKeyUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	if _, err := (HTTPFetcher{}).FetchKey(context.Background(), HubAPI{URL: base, Bridge: "", Token: ""}); errkind.KindOf(err) != errkind.KindUnavailable {
		t.Errorf("closed hub: %v, want unavailable", err)
	}
	if _, err := (HTTPFetcher{}).FetchKey(context.Background(), HubAPI{URL: "http://[::1", Bridge: "", Token: ""}); errkind.KindOf(err) != errkind.KindInvalid || errkind.FieldOf(err) != "server_api_url" {
		t.Errorf("bad URL: %v, want invalid server_api_url", err)
	}
}
