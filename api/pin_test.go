package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/testsupport"
)

// TestClientPinRules: an https:// hub needs server_api_pin, an http://
// one refuses it, and a malformed pin is named.
func TestClientPinRules(t *testing.T) {
	const pin = "sha256//+AKmItTfD3g3mGVSkdpaOQLJiOJF32xPAhVe2zfeel8="
	body := string(testsupport.SpecBody(t, "spec_client_start.json"))
	for _, c := range []struct {
		name, url, pin string
		ok             bool
	}{
		{"https with pin", "https://192.0.2.1:3333", pin, true},
		{"http without pin (the spec)", "http://192.0.2.1:3333", "", true},
		{"https without pin", "https://192.0.2.1:3333", "", false},
		{"http with pin", "http://192.0.2.1:3333", pin, false},
		{"not a pin", "https://192.0.2.1:3333", "sha1//abc", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := strings.Replace(body, `"http://158.42.89.111:3333"`, `"`+c.url+`"`, 1)
			if c.pin != "" {
				b = strings.Replace(b, `{`, `{"server_api_pin": "`+c.pin+`", `, 1)
			}
			var cl api.Client
			err := json.Unmarshal([]byte(b), &cl)
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			testsupport.WantInvalid(t, err, "server_api_pin")
			if c.url[:5] == "https" && c.pin == "" && !strings.Contains(err.Error(), "multilink fingerprint") {
				t.Errorf("%v: does not say how to get the pin", err)
			}
		})
	}
}
