package restapi

import (
	"context"
	"net/http"
	"slices"
	"testing"
)

// TestWarningsInStatusAndHealth: what Deps.Warnings lists is in /health
// and both status answers; without warnings the field is absent (the
// spec's answers are unchanged).
func TestWarningsInStatusAndHealth(t *testing.T) {
	paths := []string{"/health", "/v1/server/status", "/v1/client/status"}
	const w = "plain http: secrets in cleartext"
	d, rec := fakeDeps(testToken)
	d.Warnings = func(context.Context) []string { return []string{w} }
	a := newTestAPIWith(t, d, rec)
	for _, p := range paths {
		var got struct {
			Warnings []string `json:"warnings"`
		}
		r := a.do(http.MethodGet, p, "")
		decode(t, r, &got)
		if !slices.Equal(got.Warnings, []string{w}) {
			t.Errorf("%s: warnings %q, want [%q]", p, got.Warnings, w)
		}
	}
	quiet := newTestAPI(t)
	for _, p := range paths {
		var got map[string]any
		decode(t, quiet.do(http.MethodGet, p, ""), &got)
		if _, ok := got["warnings"]; ok {
			t.Errorf("%s without warnings has a warnings field: %v", p, got)
		}
	}
}
