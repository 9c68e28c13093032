package daemon

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/config"
	"github.com/multilink/multilink/internal/testsupport"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*")

// TestGoldenState: state.json as store.save writes the spec's server and
// client is testdata/golden/state.json byte for byte, 0600, and store.load
// of that file saved again reproduces it. The server's TAPs are srv1,
// srv2 (specServer), as the client's tap1, tap2 would clash in load's check.
func TestGoldenState(t *testing.T) {
	dir := filepath.Join("testdata", "golden")
	path := filepath.Join(dir, "state.json")
	s := newStore(t.TempDir())
	if err := s.save(config.File{Servers: []api.Server{specServer(t)}, Clients: []api.Client{testsupport.SpecClient(t)}}); err != nil {
		t.Fatal(err)
	}
	got := readState(t, s)
	want := testsupport.Golden(t, path, got, *update)
	if !bytes.Equal(got, want) {
		t.Errorf("saved state differs from %s\n--- got\n%s--- want\n%s", path, got, want)
	}
	if fi, err := os.Stat(s.path); err != nil {
		t.Errorf("stat saved state: %v", err)
	} else if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("state file mode %#o, want 0600", perm)
	}

	loaded, err := newStore(dir).load()
	if err != nil {
		t.Fatalf("load golden: %v", err)
	}
	again := newStore(t.TempDir())
	if err := again.save(loaded); err != nil {
		t.Fatal(err)
	}
	if got := readState(t, again); !bytes.Equal(got, want) {
		t.Errorf("%s loaded and saved again differs\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// readState returns the bytes of s's state file.
func readState(t *testing.T, s store) []byte {
	t.Helper()
	data, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatalf("read saved state: %v", err)
	}
	return data
}
