package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/multilink/multilink/internal/errkind"
)

// Write writes data to path with mode, replacing what is there. A
// failure (a full or read-only disk) is errkind.KindStorage, and path
// keeps what it held.
func Write(path string, data []byte, mode os.FileMode) error {
	tmp, err := writeTemp(path, data, mode)
	if err != nil {
		return storage(path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return storage(path, fmt.Errorf("rename to %s: %w", path, err))
	}
	return storage(path, syncDir(path))
}

// storage classifies a failure to write path as errkind.KindStorage.
func storage(path string, err error) error {
	if err == nil {
		return nil
	}
	return errkind.Storage(err, "write %s", path)
}

// WriteNew writes data to path with mode if there is no file there; if
// there is, it leaves it and fails with an error matching os.ErrExist. Of
// two concurrent calls, one wins.
func WriteNew(path string, data []byte, mode os.FileMode) error {
	tmp, err := writeTemp(path, data, mode)
	if err != nil {
		return storage(path, err)
	}
	defer os.Remove(tmp)
	// A hard link fails if path exists: no clobbering a file that
	// appeared meanwhile.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("link to %s: %w", path, err)
		}
		return storage(path, fmt.Errorf("link to %s: %w", path, err))
	}
	return storage(path, syncDir(path))
}

// writeTemp writes data to a new file with mode next to path, synced, and
// returns its name.
func writeTemp(path string, data []byte, mode os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", fmt.Errorf("create temp file: %w", err)
	}
	name := f.Name()
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("write temp file: %w", err)
	}
	return name, nil
}

// syncDir makes a rename or link in path's directory durable.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}
