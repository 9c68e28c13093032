package api_test

import (
	"testing"

	"github.com/multilink/multilink/api"
)

func TestCleartext(t *testing.T) {
	cases := map[string]bool{
		"http://192.0.2.1:3333":       true,
		"http://hub.example:3333":     true,
		"http://user:pw@192.0.2.1":    true,
		"https://192.0.2.1:3333":      false,
		"http://127.0.0.1:3333":       false,
		"http://127.8.0.1:3333":       false,
		"http://[::1]:3333":           false,
		"http://localhost:3333":       false,
		"http://[::ffff:127.0.0.1]:1": false,
		"://bad":                      false,
	}
	for raw, want := range cases {
		if got := api.Cleartext(raw); got != want {
			t.Errorf("Cleartext(%q) = %t, want %t", raw, got, want)
		}
	}
}
