package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/config"
	"github.com/multilink/multilink/internal/testsupport"
)

func TestPruneFiles(t *testing.T) {
	dir := t.TempDir()
	files := []string{"keys/br0.key", "keys/br1.key", "keys/bond0.key", "tunnels/srv1.conf", "tunnels/srv3.conf", "tunnels/tap1.conf", "keys/notes.txt"}
	for _, f := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want := config.File{Servers: []api.Server{testsupport.SpecServer(t)}}
	want.Servers[0].TapPrefix = "srv"
	if err := pruneFiles(dir, want, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			left = append(left, f)
		}
	}
	if w := []string{"keys/br0.key", "tunnels/srv1.conf", "keys/notes.txt"}; !slices.Equal(left, w) {
		t.Errorf("left %v, want %v", left, w)
	}
}
