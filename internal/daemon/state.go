package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/multilink/multilink/internal/atomicfile"
	"github.com/multilink/multilink/internal/config"
)

// stateFile is the desired state's file name in the state dir.
const stateFile = "state.json"

// store keeps the desired state on disk.
type store struct{ path string }

func newStore(dir string) store { return store{path: filepath.Join(dir, stateFile)} }

// load returns the saved desired state; none saved (no file) is an empty
// one. A file that is there but empty, truncated or unreadable is an
// error naming it and what to do: the daemon never starts empty over a
// state it could not read, and never writes over it.
func (s store) load() (config.File, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return config.File{}, nil
	}
	if err != nil {
		return config.File{}, fmt.Errorf("read the desired state %s: %w (%s)", s.path, err, unreadable)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return config.File{}, fmt.Errorf("the desired state %s is empty (%s)", s.path, unreadable)
	}
	f, err := config.ParseFile(data)
	if err != nil {
		return config.File{}, fmt.Errorf("the desired state %s cannot be read: %w (%s)", s.path, err, unreadable)
	}
	return f, nil
}

// unreadable says what to do about a state file the daemon cannot read.
const unreadable = "restore it from a backup, or move it away to start with no servers or clients"

// save writes the desired state atomically, 0600 (it holds tokens).
func (s store) save(f config.File) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := atomicfile.Write(s.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}
