package tunnel

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// strayGrace is how long a stray openvpn has after SIGTERM (its exit
// notification to the peer takes a second) before SIGKILL.
const strayGrace = 2 * time.Second

// killStrays ends the openvpn processes an earlier run of this Manager's
// config dir left: `<bin> --config <dir>/<tap>.conf`, found in /proc. An
// openvpn that dropped to its own user has lost its parent-death signal
// (the kernel clears it on a change of credentials), so it outlives a
// daemon killed with -9; the next daemon ends it before it makes the TAP
// again. All are signalled at once; it returns once they are gone.
func killStrays(dir string, log *slog.Logger) error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	prefix := []byte(filepath.Clean(dir) + string(filepath.Separator))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		argv, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile, or not ours to read
		}
		args := bytes.Split(bytes.TrimSuffix(argv, []byte{0}), []byte{0})
		if len(args) != 3 || string(args[1]) != "--config" || !bytes.HasPrefix(args[2], prefix) ||
			!bytes.HasSuffix(args[2], []byte(".conf")) || bytes.ContainsRune(args[2][len(prefix):], filepath.Separator) {
			continue
		}
		log.Warn("ending an openvpn an earlier run of this daemon left", "pid", pid, "config", string(args[2]))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := endProcess(pid); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// endProcess sends pid SIGTERM, SIGKILL after strayGrace, and waits
// (bounded) until it is gone.
func endProcess(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("end stray openvpn %d: %w", pid, err)
	}
	deadline := time.Now().Add(strayGrace)
	killed := false
	for i := 0; i < 400; i++ { // 400 x 10 ms: SIGTERM's grace, then SIGKILL's
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		if !killed && time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			killed = true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("end stray openvpn %d: still there after SIGKILL", pid)
}
