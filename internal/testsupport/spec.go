package testsupport

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/multilink/multilink/api"
)

// SpecBody is the spec's example body name ("spec_server_start.json",
// "spec_client_start.json", "spec_bond_params.json"), read from
// api/testdata, where api's own tests keep it. It is found from this
// source file, so it works from any package's tests; t fails if it cannot
// be read.
func SpecBody(t testing.TB, name string) []byte {
	t.Helper()
	if filepath.Base(name) != name {
		t.Fatalf("spec body %q: a file name in api/testdata, not a path", name)
	}
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatalf("reading spec body %s: no caller information to find api/testdata", name)
	}
	data, err := os.ReadFile(filepath.Join(filepath.Dir(self), "..", "..", "api", "testdata", name))
	if err != nil {
		t.Fatalf("reading spec body %s: %v", name, err)
	}
	return data
}

// SpecServer is the spec's server start body, decoded.
func SpecServer(t testing.TB) api.Server {
	t.Helper()
	return Decode[api.Server](t, string(SpecBody(t, "spec_server_start.json")))
}

// SpecClient is the spec's client start body, decoded.
func SpecClient(t testing.TB) api.Client {
	t.Helper()
	return Decode[api.Client](t, string(SpecBody(t, "spec_client_start.json")))
}
