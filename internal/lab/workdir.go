package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
)

// sharedWorkRoot holds the work dirs of checkouts under /tmp, one per
// checkout path.
const sharedWorkRoot = "/var/tmp/multilink-lab"

// DefaultWorkDir is the work dir for the checkout at checkout (an absolute
// path, symlinks resolved): .cache/lab in it, or, for a checkout under
// /tmp (which the VM replaces by a fresh one), a dir under /var/tmp named
// by a hash of the checkout's path.
func DefaultWorkDir(checkout string) string {
	if !UnderTmp(checkout) {
		return filepath.Join(checkout, ".cache", "lab")
	}
	sum := sha256.Sum256([]byte(filepath.Clean(checkout)))
	return filepath.Join(sharedWorkRoot, hex.EncodeToString(sum[:8]))
}

// UnderTmp reports whether the absolute path is /tmp or below it, which the
// VM hides under its own fresh /tmp.
func UnderTmp(path string) bool {
	path = filepath.Clean(path)
	return path == "/tmp" || strings.HasPrefix(path, "/tmp/")
}
