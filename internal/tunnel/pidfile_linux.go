package tunnel

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procStat reads a process's state letter and start time (clock ticks
// after boot) from /proc/<pid>/stat.
func procStat(pid int) (state byte, startTicks uint64, err error) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	// "pid (comm) S ppid ...": comm may hold spaces and parentheses, the
	// fields follow the last ')'. State is field 3, starttime field 22.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("stat of %d: no comm", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, fmt.Errorf("stat of %d: %d fields", pid, len(f))
	}
	startTicks, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("stat of %d: start time: %w", pid, err)
	}
	return f[0][0], startTicks, nil
}

// bootID identifies this boot of the host: pids and start times of
// another boot mean nothing.
func bootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("read boot id: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// nsInode is the inode of a namespace file (/proc/<pid>/ns/<type>): equal
// inodes are the same namespace.
func nsInode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	return st.Ino, nil
}

// newPidRecord describes process pid, started from bin with the config
// text, in the network namespace netns.
func newPidRecord(pid int, bin string, text []byte, netns uint64, restarts int) (pidRecord, error) {
	_, ticks, err := procStat(pid)
	if err != nil {
		return pidRecord{}, err
	}
	boot, err := bootID()
	if err != nil {
		return pidRecord{}, err
	}
	pidns, err := nsInode("/proc/self/ns/pid")
	if err != nil {
		return pidRecord{}, err
	}
	return pidRecord{PID: pid, StartTicks: ticks, BootID: boot, PidNS: pidns, NetNS: netns,
		Bin: bin, ConfSHA256: confSum(text), Restarts: restarts}, nil
}

// errNotThat says the pid of a record is not (any more) the process the
// record describes: it must not be signalled on the record's word.
var errNotThat = errors.New("not the recorded process")

// checkProcess tells whether r.PID is still the process r describes and
// an openvpn of ours: same boot, same pid namespace, same start time, not
// a zombie, `<bin> --config conf`, in network namespace netns. Any
// mismatch of identity is errNotThat; a foreign namespace is another
// error (it is ours, but not to manage here).
func checkProcess(r pidRecord, conf string, netns uint64) error {
	boot, err := bootID()
	if err != nil {
		return err
	}
	pidns, err := nsInode("/proc/self/ns/pid")
	if err != nil {
		return err
	}
	if r.BootID != boot || r.PidNS != pidns {
		return fmt.Errorf("%w: written in another boot or pid namespace", errNotThat)
	}
	state, ticks, err := procStat(r.PID)
	if err != nil {
		return fmt.Errorf("%w: %w", errNotThat, err)
	}
	if ticks != r.StartTicks {
		return fmt.Errorf("%w: pid %d started at tick %d, the record says %d", errNotThat, r.PID, ticks, r.StartTicks)
	}
	if state == 'Z' || state == 'X' {
		return fmt.Errorf("%w: pid %d has exited", errNotThat, r.PID)
	}
	if !runsConf(r.PID, conf) {
		return fmt.Errorf("%w: pid %d does not run --config %s", errNotThat, r.PID, conf)
	}
	n, err := nsInode("/proc/" + strconv.Itoa(r.PID) + "/ns/net")
	if errors.Is(err, fs.ErrPermission) {
		// An openvpn that dropped root is another user's: its namespace
		// link needs CAP_SYS_PTRACE, which the daemon's unit does not
		// give. The record says where it was forked, and it cannot
		// have left (setns needs CAP_SYS_ADMIN, which it never had).
		n, err = r.NetNS, nil
	}
	if err != nil || n != netns {
		return fmt.Errorf("pid %d runs in another network namespace (%d, want %d): %v", r.PID, n, netns, err)
	}
	return nil
}

// runsConf tells whether pid's command line is `<bin> --config conf`.
func runsConf(pid int, conf string) bool {
	args, ok := cmdline(pid)
	return ok && len(args) == 3 && args[1] == "--config" && args[2] == conf
}

// cmdline is a process's argv, from /proc.
func cmdline(pid int) ([]string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil, false
	}
	return strings.Split(string(bytes.TrimSuffix(b, []byte{0})), "\x00"), true
}
