package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockFile is the state dir's lock: held (flock) by the one daemon that
// uses the dir, and holding its pid for the message a second one prints.
const lockFile = "lock"

// lockedDir is a state dir this daemon holds; Close releases it.
type lockedDir struct{ f *os.File }

// Close releases the lock (the lock file stays: removing it would race
// with a daemon starting meanwhile).
func (d lockedDir) Close() error { return d.f.Close() }

// openStateDir creates dir (0700: it holds the token, link keys and the
// desired state, for root or the daemon's user alone; 0710 for the
// readers' group) or sets an existing one to that mode, with a warning
// when it was wider, then locks it for this daemon: a dir another daemon
// holds is an error naming that daemon's pid.
func openStateDir(dir string, r readers, log *slog.Logger) (lockedDir, error) {
	stateDirMode := r.dirMode()
	if err := os.MkdirAll(dir, stateDirMode); err != nil {
		return lockedDir{}, fmt.Errorf("create state dir %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return lockedDir{}, fmt.Errorf("read state dir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return lockedDir{}, fmt.Errorf("state dir %s is not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm != stateDirMode {
		if err := os.Chmod(dir, stateDirMode); err != nil {
			return lockedDir{}, fmt.Errorf("state dir %s has mode %04o and cannot be set to %04o: %w", dir, perm, stateDirMode, err)
		}
		if perm&^stateDirMode != 0 {
			log.Warn("state dir was open to others; narrowed", "dir", dir, "was", fmt.Sprintf("%04o", perm), "now", fmt.Sprintf("%04o", stateDirMode))
		}
	}
	if err := r.shareDir(dir); err != nil {
		return lockedDir{}, err
	}
	d, holder, err := lockDir(dir)
	if errors.Is(err, errInUse) {
		return lockedDir{}, fmt.Errorf("state dir %s is in use by another multilink daemon (pid %s): stop it, or give this one another --state-dir", dir, holder)
	}
	return d, err
}

// errInUse: another process holds the state dir's lock.
var errInUse = errors.New("state dir in use")

// lockDir takes the lock of state dir dir and writes this process's pid
// in it. Held by another process: errInUse, with the pid it wrote.
func lockDir(dir string) (lockedDir, string, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return lockedDir{}, "", fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := readPid(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return lockedDir{}, holder, errInUse
		}
		return lockedDir{}, "", fmt.Errorf("lock %s: %w", path, err)
	}
	if err := writePid(f); err != nil {
		f.Close()
		return lockedDir{}, "", fmt.Errorf("write pid to %s: %w", path, err)
	}
	return lockedDir{f: f}, "", nil
}

// readPid is the pid a lock file holds, or "unknown".
func readPid(f *os.File) string {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	if pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n]))); err == nil && pid > 0 {
		return strconv.Itoa(pid)
	}
	return "unknown"
}

func writePid(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return err
	}
	return f.Sync()
}

// privateFile makes sure a secret file (the API token) is not readable by
// others: a file with group or other bits is set to 0600 with a warning;
// one that cannot be (a read-only mount) is an error naming it.
func privateFile(path string, log *slog.Logger) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, perm&^fs.FileMode(0o077)); err != nil {
		return fmt.Errorf("%s holds the API token and others can read it (mode %04o), and it cannot be changed (%w): chmod 600 it, or mount it with mode 0400", path, perm, err)
	}
	log.Warn("token file was readable by others; group and other access removed", "file", path, "was", fmt.Sprintf("%04o", perm))
	return nil
}
