package restapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fuzzBody posts body to path on a router over fakes and fails on a panic,
// a 5xx or a non-JSON answer; accepted bodies must have reached the fake
// valid (check).
func fuzzBody(f *testing.F, method, path string, seeds []string, check func(t *testing.T, rec *fakes)) {
	for _, s := range seeds {
		f.Add(s)
	}
	d, rec := fakeDeps(testToken)
	r, err := NewRouter(d)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec.Reset()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%d for body %q: %s", w.Code, body, w.Body)
		}
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("answer is not a JSON object: %v %s", err, w.Body)
		}
		switch {
		case w.Code == http.StatusOK:
			check(t, rec)
		case w.Code >= 400 && w.Code < 500:
			if s, _ := m["error"].(string); s == "" {
				t.Fatalf("%d without an error message: %s", w.Code, w.Body)
			}
			if len(rec.Calls()) != 0 {
				t.Fatalf("rejected body reached %q", rec.Calls())
			}
		default:
			t.Fatalf("unexpected status %d", w.Code)
		}
	})
}

func FuzzServerStart(f *testing.F) {
	seeds := []string{
		`{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": "2"}`,
		`{"bridge_interface": "br1", "bridge_ip": "10.9.0.1/16", "links": 16, "port_base": 65520, "tap_prefix": "t"}`,
		`{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": "2"`,
		`{"links": 1e400}`,
		`[]`, `null`, `""`, ``,
	}
	fuzzBody(f, "POST", "/v1/server/start", seeds, func(t *testing.T, rec *fakes) {
		if err := rec.hub.LastStart().Check(); err != nil {
			t.Fatalf("accepted an invalid server: %v (%+v)", err, rec.hub.LastStart())
		}
	})
}

func FuzzClientStart(f *testing.F) {
	seeds := []string{
		clientBody,
		`{"server_api_url": "http://x", "bond": {}}`,
		`{"server_api_url": "http://x", "bond": {"bond0": {"ip_address": "10.0.0.1", "slaves": [{"hw_int": "eth0", "ip_server": "10.0.0.2", "netmask": 33}]}}}`,
		`{"bond": {"a": null}}`,
		`{"server_api_url": 1}`,
	}
	fuzzBody(f, "POST", "/v1/client/start", seeds, func(t *testing.T, rec *fakes) {
		if err := rec.gw.LastStart().Check(); err != nil {
			t.Fatalf("accepted an invalid client: %v (%+v)", err, rec.gw.LastStart())
		}
	})
}

func FuzzBondParams(f *testing.F) {
	seeds := []string{
		`{"primary": "tap2", "arp_interval": "50"}`,
		`{"arp_ip_target": ["10.8.0.254", "10.8.0.253"], "bonding_mode": "active-backup"}`,
		`{"miimon": "-1"}`,
		`{}`,
	}
	fuzzBody(f, "PUT", "/v1/client/bond_params/bond0", seeds, func(t *testing.T, rec *fakes) {
		if _, err := json.Marshal(rec.gw.LastParams()); err != nil {
			t.Fatalf("accepted parameters do not marshal: %v", err)
		}
	})
}

func FuzzPingTest(f *testing.F) {
	seeds := []string{
		`{"ip": "10.8.0.254"}`,
		`{"ip": "fe80::1%eth0", "count": "3"}`,
		`{"ip": "::", "timeout_ms": 1e9}`,
	}
	fuzzBody(f, "POST", "/v1/ping_test", seeds, func(t *testing.T, rec *fakes) {
		if err := rec.ping.Check(); err != nil {
			t.Fatalf("accepted an invalid ping request: %v (%+v)", err, rec.ping)
		}
	})
}
