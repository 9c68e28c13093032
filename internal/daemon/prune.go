package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/multilink/multilink/internal/config"
)

// pruneFiles removes the link keys and OpenVPN configs in the state dir
// that no desired server or client uses: what a crashed run left of an
// entry that left the desired state meanwhile. A desired entry keeps its
// files (a hub's link key stays valid across restarts).
func pruneFiles(stateDir string, want config.File, log *slog.Logger) error {
	keys := map[string]bool{}
	confs := map[string]bool{}
	for _, s := range want.Servers {
		keys[s.BridgeInterface+".key"] = true
		for _, t := range s.Taps() {
			confs[t+".conf"] = true
		}
	}
	for _, c := range want.Clients {
		keys[c.Bond+".key"] = true
		for _, t := range c.Taps() {
			confs[t+".conf"] = true
		}
	}
	var errs []error
	for dir, keep := range map[string]map[string]bool{"keys": keys, "tunnels": confs} {
		entries, err := os.ReadDir(filepath.Join(stateDir, dir))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", dir, err))
			continue
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || keep[name] || !(strings.HasSuffix(name, ".key") || strings.HasSuffix(name, ".conf")) {
				continue
			}
			path := filepath.Join(stateDir, dir, name)
			if err := os.Remove(path); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", path, err))
				continue
			}
			log.Warn("removed a file no desired server or client uses", "file", path)
		}
	}
	return errors.Join(errs...)
}
