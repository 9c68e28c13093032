package tunnel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EndStrays ends the openvpn processes an earlier run of a Manager with
// config dir dir left: `<bin> --config <dir>/<tap>.conf`, found in /proc.
// An openvpn that dropped to its own user has lost its parent-death
// signal (the kernel clears it on a change of credentials), so it
// outlives a daemon killed with -9. Call it before anything else of that
// run is removed: an openvpn whose TAP is deleted under it is slow to
// exit, and one that still has its link sends the peer its exit
// notification at once.
//
// A server end gets SIGTERM: its client must hear that the session is
// over and start a new one. A client end gets SIGKILL: the next daemon's
// client opens a new session that the server takes at once, while an
// exit notification would make the server restart and close its port
// for a second just when the new client knocks. All are ended together;
// it returns once they are gone.
func EndStrays(dir string, log *slog.Logger) error {
	ps, err := confProcs(dir)
	if err != nil {
		return err
	}
	return endConfProcs(ps, log, "ending an openvpn an earlier run of this daemon left")
}

// confProc is a process running `<bin> --config <dir>/<tap>.conf`.
type confProc struct {
	pid  int
	conf string
	tap  string
}

// confProcs finds the processes running a config file of dir, in /proc.
func confProcs(dir string) ([]confProc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	prefix := []byte(filepath.Clean(dir) + string(filepath.Separator))
	var ps []confProc
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
		if gone(pid) {
			continue // a zombie: its parent reaps it
		}
		conf := string(args[2])
		ps = append(ps, confProc{pid: pid, conf: conf, tap: strings.TrimSuffix(filepath.Base(conf), ".conf")})
	}
	return ps, nil
}

// endConfProcs ends ps together, each by its role (see EndStrays), and
// returns once they are gone.
func endConfProcs(ps []confProc, log *slog.Logger, why string) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, p := range ps {
		log.Warn(why, "pid", p.pid, "config", p.conf)
		grace := strayGrace
		if clientConf(p.conf) {
			grace = 0
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			killed, err := endProcess(p.pid, grace)
			if err == nil {
				log.Info("openvpn ended", "pid", p.pid, "took", time.Since(began).Round(time.Millisecond), "killed", killed)
			} else {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// clientConf tells whether the config file at path is a client end's
// (Render writes "remote" for clients only). An unreadable one is taken
// for a server's, which ends the gentler way.
func clientConf(path string) bool {
	text, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for line := range bytes.Lines(text) {
		if bytes.HasPrefix(line, []byte("remote ")) {
			return true
		}
	}
	return false
}

// endProcess sends pid SIGTERM, SIGKILL after grace (at once if grace is
// 0), and waits (bounded) until it is gone; killed tells whether SIGKILL
// was sent.
func endProcess(pid int, grace time.Duration) (killed bool, err error) {
	sig := syscall.SIGTERM
	if grace == 0 {
		sig, killed = syscall.SIGKILL, true
	}
	if err := syscall.Kill(pid, sig); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return false, nil
		}
		return false, fmt.Errorf("end stray openvpn %d: %w", pid, err)
	}
	deadline := time.Now().Add(grace)
	for i := 0; i < 300; i++ { // 300 x 10 ms: SIGTERM's grace, then SIGKILL's
		if gone(pid) {
			return killed, nil
		}
		if !killed && time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			killed = true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return killed, fmt.Errorf("end stray openvpn %d: still there after SIGKILL", pid)
}

// gone tells whether pid has exited: no such process, or a zombie (a
// stray's parent is gone, and whoever adopted it may reap it late; its
// TAP and socket are already released).
func gone(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X'
}

// EndUnclaimed ends every openvpn running a config file of Options.Dir
// that this Manager does not supervise (as EndStrays does), then removes
// the config, pid and log files of the TAPs it does not run: what an
// earlier run left that the restore did not claim. The TAPs spare names
// (nil: none) are left alone too: a desired tunnel whose start failed
// for now keeps forwarding until a later Start adopts it. The TAPs
// themselves are the owner sweep's.
func (m *Manager) EndUnclaimed(ctx context.Context, spare func(tap string) bool) error {
	m.startMu.Lock() // no Start between the inventory and the ending
	defer m.startMu.Unlock()
	m.mu.Lock()
	managed := make(map[string]bool, len(m.tunnels))
	for tap := range m.tunnels {
		managed[tap] = true
	}
	m.mu.Unlock()
	if spare != nil {
		// A TAP the caller spares counts as claimed: its openvpn and
		// files stay for a later Start to adopt.
		ps, err := confProcs(m.opts.Dir)
		if err != nil {
			return fmt.Errorf("end unclaimed openvpn: %w", err)
		}
		for _, p := range ps {
			if spare(p.tap) {
				managed[p.tap] = true
			}
		}
		if ents, err := os.ReadDir(m.opts.Dir); err == nil {
			for _, e := range ents {
				if tap := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name())); spare(tap) {
					managed[tap] = true
				}
			}
		}
	}
	ps, err := confProcs(m.opts.Dir)
	if err != nil {
		return fmt.Errorf("end unclaimed openvpn: %w", err)
	}
	var strays []confProc
	for _, p := range ps {
		if !managed[p.tap] {
			strays = append(strays, p)
		}
	}
	ended := make(chan error, 1)
	go func() { ended <- endConfProcs(strays, m.log, "ending an openvpn no tunnel claimed") }()
	select {
	case err = <-ended:
	case <-ctx.Done():
		return fmt.Errorf("end unclaimed openvpn: %w", ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("end unclaimed openvpn: %w", err)
	}
	ents, err := os.ReadDir(m.opts.Dir)
	if err != nil {
		return fmt.Errorf("end unclaimed openvpn: %w", err)
	}
	var errs []error
	for _, e := range ents {
		ext := filepath.Ext(e.Name())
		if tap := strings.TrimSuffix(e.Name(), ext); e.Type().IsRegular() && !managed[tap] && (ext == ".conf" || ext == ".pid" || ext == ".log") {
			if err := os.Remove(filepath.Join(m.opts.Dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			} else {
				m.log.Info("removed a file no tunnel claimed", "file", e.Name())
			}
		}
	}
	return errors.Join(errs...)
}
