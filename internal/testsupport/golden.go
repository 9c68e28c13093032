package testsupport

import (
	"os"
	"path/filepath"
	"testing"
)

// Golden returns the golden file at path for the caller to compare with
// got, after writing got there (making its folder) if update is set. A
// package passes its own -update flag: flags belong to the test binary.
func Golden(t testing.TB, path string, got []byte, update bool) []byte {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("making the folder of golden file %s: %v", path, err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("writing golden file %s: %v", path, err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file: %v (go test -update writes it)", err)
	}
	return want
}
