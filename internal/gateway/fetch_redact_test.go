package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFetchKeyCredentials: credentials in server_api_url reach the hub as
// basic auth (without a token; a token wins, as with net/http) and appear
// in no error, whether the hub answers or not.
func TestFetchKeyCredentials(t *testing.T) {
	var gotUser, gotPass string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUser, gotPass, _ = r.BasicAuth()
		http.Error(w, `{"error":"no"}`, http.StatusUnauthorized)
	}))
	defer srv.Close()
	base := strings.Replace(srv.URL, "http://", "http://alice:s3cret-pass@", 1)
	_, err := HTTPFetcher{}.FetchKey(context.Background(), HubAPI{URL: base, Bridge: "", Token: ""})
	if err == nil {
		t.Fatal("a 401 was taken")
	}
	if gotUser != "alice" || gotPass != "s3cret-pass" {
		t.Errorf("hub saw basic auth %q:%q", gotUser, gotPass)
	}
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "alice") {
		t.Errorf("error shows the credentials: %v", err)
	}
	srv.Close()
	_, err = HTTPFetcher{}.FetchKey(context.Background(), HubAPI{URL: base, Bridge: "", Token: "api-token-0123456789"})
	if err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "alice") {
		t.Errorf("unreachable hub: %v", err)
	}
}
