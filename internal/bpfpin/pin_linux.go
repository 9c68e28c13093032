package bpfpin

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNotBPFFS says a directory is not on a bpf filesystem.
var ErrNotBPFFS = errors.New("not a bpf filesystem")

// Check returns nil when dir is on a bpf filesystem.
func Check(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if uint32(st.Type) != unix.BPF_FS_MAGIC {
		return fmt.Errorf("%s: %w (filesystem type %#x)", dir, ErrNotBPFFS, uint32(st.Type))
	}
	return nil
}

// Ensure makes dir a bpf filesystem: nothing when it is one already, else
// it creates the directory and mounts a bpffs instance on it (needs
// CAP_SYS_ADMIN in the mount namespace's owner). mounted says whether it
// mounted one.
func Ensure(dir string, log *slog.Logger) (mounted bool, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if Check(dir) == nil {
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("create bpffs mount point %s: %w", dir, err)
	}
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=0700"); err != nil {
		return false, fmt.Errorf("mount bpffs on %s: %w", dir, err)
	}
	if err := Check(dir); err != nil {
		return true, err
	}
	log.Info("mounted a bpf filesystem", "dir", dir)
	return true, nil
}

// RemoveAll unpins every object under dir and removes the directories. A
// missing dir is not an error; a dir that is not on a bpffs is refused,
// so a wrong setting never removes ordinary files. The kernel's own files
// (names with a dot, such as maps.debug in a bpffs' root: pins cannot have
// one) stay, and so does dir itself when it is a mount point.
func RemoveAll(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := Check(dir); err != nil {
		return fmt.Errorf("remove pins under %s: %w", dir, err)
	}
	if err := removeTree(dir); err != nil {
		return fmt.Errorf("remove pins under %s: %w", dir, err)
	}
	return nil
}

func removeTree(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			if err := removeTree(p); err != nil {
				return err
			}
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	err = unix.Rmdir(dir)
	if err == nil || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EBUSY) || errors.Is(err, unix.ENOTEMPTY) {
		return nil
	}
	return &fs.PathError{Op: "rmdir", Path: dir, Err: err}
}
