package api_test

import (
	"reflect"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
)

// FuzzDecode feeds any bytes to every decoder: none may panic, every
// error is KindInvalid, a rejected body leaves the value as it was, and
// an accepted Server or Client re-validates and round-trips through
// Marshal (as does an accepted BondParams). The config file made of these
// bodies has its own fuzz test (internal/config).
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"spec_server_start.json", "spec_client_start.json", "spec_bond_params.json"} {
		f.Add(testsupport.SpecBody(f, name))
	}
	f.Add([]byte(`{"bridge_interface": "br1", "bridge_ip": "10.9.0.1/16", "links": 16, "port_base": 65520, "tap_prefix": "t"}`))
	f.Add([]byte(`{"bonding_mode": "802.3ad", "miimon": 100, "arp_ip_target": ["10.8.0.254", "10.8.0.1"], "primary": ""}`))
	f.Add([]byte(`{"servers": [{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": "2"}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"a": 1, "a": 2}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		invalid := func(what string, err error) {
			if k := errkind.KindOf(err); k != errkind.KindInvalid {
				t.Fatalf("%s: kind %d for %q: %v", what, k, data, err)
			}
		}

		good := api.Server{BridgeInterface: "keep"}
		s := good
		if err := s.UnmarshalJSON(data); err != nil {
			invalid("server", err)
			if !reflect.DeepEqual(s, good) {
				t.Fatalf("rejected server body changed the value: %+v", s)
			}
		} else {
			if err := s.Check(); err != nil {
				t.Fatalf("accepted server fails Check: %v (%+v)", err, s)
			}
			roundTrip(t, s)
		}

		var c api.Client
		if err := c.UnmarshalJSON(data); err != nil {
			invalid("client", err)
			if !reflect.ValueOf(c).IsZero() {
				t.Fatalf("rejected client body changed the value: %+v", c)
			}
		} else {
			if err := c.Check(); err != nil {
				t.Fatalf("accepted client fails Check: %v (%s)", err, testsupport.MustJSON(c))
			}
			roundTrip(t, c)
		}

		var p api.BondParams
		if err := p.UnmarshalJSON(data); err != nil {
			invalid("bond params", err)
		} else {
			roundTrip(t, p)
		}
	})
}
