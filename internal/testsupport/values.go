package testsupport

import (
	"encoding/json"
	"net/netip"
	"testing"
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

// Decode is body decoded into a T as the API decodes a request (with
// json.Unmarshal, so T's own UnmarshalJSON); t fails if it cannot be.
func Decode[T any](t testing.TB, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}
