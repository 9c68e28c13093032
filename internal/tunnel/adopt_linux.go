package tunnel

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// adoption is an openvpn an earlier Manager left running for a tunnel,
// verified and taken over: its first run under this Manager.
type adoption struct {
	p        *proc
	restarts int      // from its pid file
	up       bool     // its TAP's admin state, kept
	logged   bool     // it writes to <Dir>/<tap>.log (started with Keep)
	offset   int64    // that file's size at adoption: new lines follow
	lines    []string // its last lines before
}

// adopt takes over the openvpn an earlier run left for s when the pid
// file vouches for it and everything still matches (see adoptable). When
// it does not, every process running s's config file is ended as
// EndStrays does (a verified openvpn of ours with another config, or one
// whose pid file is missing or stale) and the pid file is removed: the
// caller then starts a fresh one, on the TAP if it is there. A process
// the pid file names that does not run the config is never signalled.
// text is s's rendered config.
func (m *Manager) adopt(s Spec, text []byte) *adoption {
	conf, pidf := confPath(m.opts.Dir, s.Tap), pidPath(m.opts.Dir, s.Tap)
	r, err := readPidFile(pidf)
	if err == nil {
		a, why := m.adoptable(s, r, conf, text)
		if a != nil {
			return a
		}
		m.log.Info("openvpn of an earlier run not adopted", "tap", s.Tap, "pid", r.PID, "why", why)
	} else if !errors.Is(err, os.ErrNotExist) {
		m.log.Warn("pid file unusable", "tap", s.Tap, "err", err)
	}
	ps, err := confProcs(m.opts.Dir)
	if err != nil {
		m.log.Warn("looking for an openvpn of an earlier run", "tap", s.Tap, "err", err)
	}
	var mine []confProc
	for _, p := range ps {
		if p.conf == conf {
			mine = append(mine, p)
		}
	}
	if err := endConfProcs(mine, m.log, "ending an openvpn of an earlier run to start one anew"); err != nil {
		m.log.Warn("ending an openvpn of an earlier run", "tap", s.Tap, "err", err)
	}
	if err := os.Remove(pidf); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.log.Warn("removing a stale pid file", "tap", s.Tap, "err", err)
	}
	return nil
}

// adoptable opens a pidfd of r's process first (from then on its pid
// cannot name another process), then checks that it is the recorded one
// and runs conf in our namespace (checkProcess), that the TAP is ours and
// held by it, and that conf on disk is text and what it was started with.
// Either it returns the adoption or why not.
func (m *Manager) adoptable(s Spec, r pidRecord, conf string, text []byte) (*adoption, string) {
	fd, err := openPidFD(r.PID)
	if err != nil {
		return nil, err.Error()
	}
	a, why := m.check(s, r, conf, text)
	if a == nil {
		_ = fd.close()
		return nil, why
	}
	a.p = adoptedProc(r.PID, fd)
	return a, ""
}

func (m *Manager) check(s Spec, r pidRecord, conf string, text []byte) (*adoption, string) {
	if err := checkProcess(r, conf, m.netns); err != nil {
		return nil, err.Error()
	}
	disk, err := os.ReadFile(conf)
	switch {
	case err != nil:
		return nil, err.Error()
	case !bytes.Equal(disk, text):
		return nil, "the desired config differs from the one on disk"
	case confSum(disk) != r.ConfSHA256:
		return nil, "it runs another config than the one on disk"
	}
	info, err := m.dev.inspect(s.Tap)
	switch {
	case err != nil:
		return nil, err.Error()
	case !info.ours:
		return nil, fmt.Sprintf("%s is not a TAP of ours", s.Tap)
	case !info.busy:
		return nil, fmt.Sprintf("it does not hold %s", s.Tap)
	}
	if held, known := procHoldsTap(r.PID, s.Tap); known && !held {
		return nil, fmt.Sprintf("it does not hold %s", s.Tap)
	}
	a := &adoption{restarts: r.Restarts, up: info.up}
	if fi, err := os.Stat(logPath(m.opts.Dir, s.Tap)); err == nil && fi.Mode().IsRegular() {
		a.logged = true
		a.offset, a.lines = logTail(logPath(m.opts.Dir, s.Tap))
	}
	return a, ""
}

// procHoldsTap tells whether process pid has the TAP open, from its fdinfo
// ("iff: tap1"); known is false when its fds cannot be read (an openvpn
// that dropped root, seen without CAP_SYS_PTRACE).
func procHoldsTap(pid int, tap string) (held, known bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, false
	}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if errors.Is(err, fs.ErrPermission) {
			return false, false // listed, but its links need CAP_SYS_PTRACE
		}
		if target != "/dev/net/tun" {
			continue
		}
		info, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/fdinfo/" + e.Name())
		for line := range strings.Lines(string(info)) {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "iff:" && f[1] == tap {
				return true, true
			}
		}
	}
	return false, true
}

// nsIdentity is the inode of the network namespace ns, or of the
// caller's when ns is not open: what a pid record's netns is compared to.
func nsIdentity(ns netns.NsHandle) (uint64, error) {
	if !ns.IsOpen() {
		return nsInode("/proc/self/ns/net")
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(ns), &st); err != nil {
		return 0, fmt.Errorf("stat netns: %w", err)
	}
	return st.Ino, nil
}
