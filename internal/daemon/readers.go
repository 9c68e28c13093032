package daemon

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
)

// readers says who besides the daemon's user may read the endpoint
// (api.json), which the command line's status, watch and events need:
// nobody, or the members of --api-group. With a group the state dir is
// 0710 (its members may open a file they can name, not list the dir) and
// api.json 0640 in that group; everything else stays the daemon's alone,
// the token first: reads need none, and with it a member could change
// the network and read the link key.
type readers struct {
	group string // "": nobody (the zero value)
	gid   int
}

// lookupReaders resolves --api-group ("" for none).
func lookupReaders(group string) (readers, error) {
	if group == "" {
		return readers{}, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return readers{}, fmt.Errorf("--api-group %q: %w", group, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return readers{}, fmt.Errorf("--api-group %q: gid %q: %w", group, g.Gid, err)
	}
	return readers{gid: gid, group: group}, nil
}

func (r readers) dirMode() fs.FileMode {
	if r.group == "" {
		return 0o700
	}
	return 0o710
}

// share gives path to the group, read only (nothing without a group).
func (r readers) share(path string) error {
	if r.group == "" {
		return nil
	}
	if err := os.Chown(path, -1, r.gid); err != nil {
		return fmt.Errorf("give %s to group %s: %w", path, r.group, err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		return fmt.Errorf("make %s readable by group %s: %w", path, r.group, err)
	}
	return nil
}

// shareDir gives the state dir to the group, to traverse only.
func (r readers) shareDir(dir string) error {
	if r.group == "" {
		return nil
	}
	if err := os.Chown(dir, -1, r.gid); err != nil {
		return fmt.Errorf("give state dir %s to group %s: %w", dir, r.group, err)
	}
	return nil
}
