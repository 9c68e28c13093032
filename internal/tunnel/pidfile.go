package tunnel

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/multilink/multilink/internal/atomicfile"
)

// pidRecord is what <Dir>/<tap>.pid says of the openvpn running a tunnel:
// enough for a later Manager to tell that process from any other that got
// its pid since (start time, boot, pid namespace), to check it runs in
// the namespace it will manage, and to know whether the config it runs is
// still the desired one.
type pidRecord struct {
	PID        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks"` // /proc/<pid>/stat field 22, in clock ticks since boot
	BootID     string `json:"boot_id"`     // /proc/sys/kernel/random/boot_id
	PidNS      uint64 `json:"pidns"`       // inode of the pid namespace its pid is valid in
	NetNS      uint64 `json:"netns"`       // inode of the network namespace it was started in
	Bin        string `json:"bin"`
	ConfSHA256 string `json:"conf_sha256"` // of the config file it was started with
	Restarts   int    `json:"restarts"`    // Status.Restarts when it started
}

// pidPath, confPath and logPath are the files of a tunnel in dir.
func pidPath(dir, tap string) string  { return filepath.Join(dir, tap+".pid") }
func confPath(dir, tap string) string { return filepath.Join(dir, tap+".conf") }
func logPath(dir, tap string) string  { return filepath.Join(dir, tap+".log") }

// confSum is the hex SHA-256 of a config file's text.
func confSum(text []byte) string {
	s := sha256.Sum256(text)
	return hex.EncodeToString(s[:])
}

// writePidFile replaces path with r, atomically: a reader sees the old
// record or the new one, never part of one.
func writePidFile(path string, r pidRecord) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	if err := atomicfile.Write(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

// readPidFile reads a record written by writePidFile. A record without a
// pid, start time or boot id is an error: it could match anything.
func readPidFile(path string) (pidRecord, error) {
	var r pidRecord
	data, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("read pid file: %w", err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("read pid file %s: %w", path, err)
	}
	if r.PID <= 0 || r.StartTicks == 0 || r.BootID == "" || r.PidNS == 0 || r.NetNS == 0 || r.ConfSHA256 == "" {
		return r, fmt.Errorf("read pid file %s: incomplete record", path)
	}
	return r, nil
}
