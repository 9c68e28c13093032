package testsupport

import (
	"encoding/json"
	"net/netip"
)

// Ptr is a pointer to a copy of v, for the optional fields of API bodies.
func Ptr[T any](v T) *T { return &v }

// Addrs parses IP addresses; a bad one panics (test data).
func Addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// MustJSON is v as compact JSON, for messages; an error panics.
func MustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
