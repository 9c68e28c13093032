package api_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/multilink/multilink/internal/testsupport"
)

// object edits: del removes a key.
type deleted struct{}

var del = deleted{}

func apply(m map[string]any, kv []any) {
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == del {
			delete(m, k)
		} else {
			m[k] = kv[i+1]
		}
	}
}

// serverBody is the spec's server example with kv put over it.
func serverBody(kv ...any) string {
	m := map[string]any{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": "2"}
	apply(m, kv)
	return testsupport.MustJSON(m)
}

// clientParts is the spec's client example, open for editing.
type clientParts struct {
	top, bond, bonding map[string]any
	slaves             []any
}

func (c clientParts) slave(i int) map[string]any { return c.slaves[i].(map[string]any) }

func specClientParts() clientParts {
	c := clientParts{
		bonding: map[string]any{
			"bonding_mode": "1", "primary": "tap1", "arp_ip_target": "10.8.0.254",
			"arp_interval": "100", "fail_over_mac": "1", "arp_validate": "5",
		},
		slaves: []any{
			map[string]any{"hw_int": "eth0", "ip_server": "158.42.89.111", "netmask": "255.255.255.0"},
			map[string]any{"hw_int": "wlan0", "ip_server": "192.168.150.100", "netmask": "255.255.255.0"},
		},
	}
	c.bond = map[string]any{"ip_address": "10.8.0.253", "slaves": c.slaves, "bonding": c.bonding}
	c.top = map[string]any{"server_api_url": "http://158.42.89.111:3333", "bond": map[string]any{"bond0": c.bond}}
	return c
}

// clientBody is the spec's client example after edit.
func clientBody(edit func(c clientParts)) string {
	c := specClientParts()
	if edit != nil {
		edit(c)
	}
	return testsupport.MustJSON(c.top)
}

// bondingBody is the spec's client example with kv put over its bonding.
func bondingBody(kv ...any) string {
	return clientBody(func(c clientParts) { apply(c.bonding, kv) })
}

// roundTrip wants v to Marshal and Unmarshal to an equal value.
func roundTrip[T any](t *testing.T, v T) {
	t.Helper()
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("accepted %T does not marshal: %v", v, err)
	}
	var back T
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("%T %s does not read back: %v", v, out, err)
	}
	if !reflect.DeepEqual(back, v) {
		t.Fatalf("%T round trip:\n%s\n%s", v, testsupport.MustJSON(v), testsupport.MustJSON(back))
	}
}
