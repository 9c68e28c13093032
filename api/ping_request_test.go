package api_test

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

func TestRequestDecode(t *testing.T) {
	good := []struct {
		body string
		want api.PingRequest
	}{
		{`{"ip": "10.8.0.254"}`, api.PingRequest{IP: netip.MustParseAddr("10.8.0.254")}},
		{`{"ip": "2001:db8::1", "count": 3}`, api.PingRequest{IP: netip.MustParseAddr("2001:db8::1"), Count: 3}},
		{`{"ip": "::ffff:192.0.2.1"}`, api.PingRequest{IP: netip.MustParseAddr("192.0.2.1")}},
		{`{"ip": "fe80::1%eth0"}`, api.PingRequest{IP: netip.MustParseAddr("fe80::1%eth0")}},
		{`{"ip": " 127.0.0.1 ", "count": "2", "interval_ms": 10, "timeout_ms": "100"}`,
			api.PingRequest{IP: netip.MustParseAddr("127.0.0.1"), Count: 2, Interval: 10, Timeout: 100}},
	}
	for _, tc := range good {
		var r api.PingRequest
		if err := json.Unmarshal([]byte(tc.body), &r); err != nil {
			t.Errorf("%s: %v", tc.body, err)
			continue
		}
		if r != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.body, r, tc.want)
		}
	}
}

func TestRequestDecodeRejects(t *testing.T) {
	bad := []struct{ body, field string }{
		{`{}`, "ip"},
		{`null`, ""},
		{`[]`, ""},
		{`{"ip": 10}`, "ip"},
		{`{"ip": "example.com"}`, "ip"},
		{`{"ip": "10.0.0.1/24"}`, "ip"},
		{`{"ip": "0.0.0.0"}`, "ip"},
		{`{"ip": "::"}`, "ip"},
		{`{"ip": "224.0.0.1"}`, "ip"},
		{`{"ip": "ff02::1"}`, "ip"},
		{`{"ip": "255.255.255.255"}`, "ip"},
		{`{"ip": "fe80::1%eth0;reboot"}`, "ip"},
		{`{"ip": "10.0.0.1", "count": 0}`, "count"},
		{`{"ip": "10.0.0.1", "count": 101}`, "count"},
		{`{"ip": "10.0.0.1", "count": 1.5}`, "count"},
		{`{"ip": "10.0.0.1", "count": "many"}`, "count"},
		{`{"ip": "10.0.0.1", "count": true}`, "count"},
		{`{"ip": "10.0.0.1", "interval_ms": 9}`, "interval_ms"},
		{`{"ip": "10.0.0.1", "timeout_ms": 30001}`, "timeout_ms"},
		{`{"ip": "10.0.0.1", "count": 100, "interval_ms": 10000}`, "count"},
		{`{"ip": "10.0.0.1", "host": "x"}`, "host"},
	}
	for _, tc := range bad {
		var r api.PingRequest
		err := json.Unmarshal([]byte(tc.body), &r)
		if errkind.KindOf(err) != errkind.KindInvalid {
			t.Errorf("%s: err %v, want an invalid-kind error", tc.body, err)
			continue
		}
		if got := errkind.FieldOf(err); got != tc.field {
			t.Errorf("%s: field %q, want %q (%v)", tc.body, got, tc.field, err)
		}
	}
}

func TestRequestCheckDefaults(t *testing.T) {
	r := api.PingRequest{IP: netip.MustParseAddr("192.0.2.1")}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	f := r.Filled()
	if f.Count != api.DefaultPingCount || f.Interval != api.DefaultPingInterval || f.Timeout != api.DefaultPingTimeout {
		t.Errorf("filled: %+v", f)
	}
	if err := (api.PingRequest{}).Check(); errkind.FieldOf(err) != "ip" {
		t.Errorf("no ip: %v", err)
	}
	if err := (api.PingRequest{IP: r.IP, Count: -1}).Check(); errkind.FieldOf(err) != "count" {
		t.Errorf("negative count: %v", err)
	}
}
