package daemon

import (
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

// load returns the saved desired state; none saved is an empty one.
func (s store) load() (config.File, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return config.File{}, nil
	}
	if err != nil {
		return config.File{}, fmt.Errorf("read state: %w", err)
	}
	f, err := config.ParseFile(data)
	if err != nil {
		return config.File{}, fmt.Errorf("parse state %s: %w", s.path, err)
	}
	return f, nil
}

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
