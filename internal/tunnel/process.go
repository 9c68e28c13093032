package tunnel

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/multilink/multilink/internal/nsthread"
)

// proc is one run of openvpn: a child this Manager started, or (adopt)
// one an earlier Manager left running.
type proc struct {
	pid     int
	adopted bool
	exited  chan struct{} // closed once the process has exited
	err     error         // how it ended, nil for exit status 0; read once exited is closed
	// signal sends sig to the process, never to another that got its pid
	// (pidfd-backed).
	signal func(sig syscall.Signal) error
	// release lets go of the process without ending it (closes an
	// adopted one's pidfd); nil for a child.
	release func()
	// logged is closed once the follower of its log file (Options.Keep,
	// adopted) has read the last line; nil without one.
	logged chan struct{}
}

// startChild starts `bin --config conf` in the Manager's namespace, on a
// locked thread that then waits for it (the parent-death signal is tied
// to the forking thread, see package nsthread), and returns once it runs.
// Output goes to out, through a pipe, or with Options.Keep to the log
// file that a follower feeds into out until the process exits or stop
// is closed. The argv holds nothing but the
// binary and the config file's path; no shell is involved.
func (m *Manager) startChild(bin, tap string, out *output, stop <-chan struct{}) (*proc, error) {
	p := &proc{exited: make(chan struct{})}
	started := make(chan error, 1)
	var logOffset int64
	go func() {
		err := nsthread.In(m.ns, func() error {
			cmd := exec.Command(bin, "--config", confPath(m.opts.Dir, tap))
			cmd.SysProcAttr = procAttr(m.opts.Keep)
			cmd.Env = childEnv(os.Environ())
			var logFile *os.File
			if m.opts.Keep {
				f, off, err := openLog(logPath(m.opts.Dir, tap))
				if err != nil {
					return err
				}
				logFile, logOffset = f, off
				cmd.Stdout, cmd.Stderr = f, f
			} else {
				cmd.Stdout, cmd.Stderr = out, out
			}
			err := cmd.Start()
			if logFile != nil {
				logFile.Close() // the child has its own copy
			}
			if err != nil {
				return fmt.Errorf("start %s: %w", bin, err)
			}
			p.pid = cmd.Process.Pid
			p.signal = func(sig syscall.Signal) error { return cmd.Process.Signal(sig) }
			started <- nil
			p.err = cmd.Wait()
			if !m.opts.Keep {
				out.flush() // with Keep, the follower does
			}
			return nil
		})
		if err != nil {
			started <- err
			return
		}
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	out.setPID(p.pid)
	if m.opts.Keep {
		p.logged = make(chan struct{})
		go follow(logPath(m.opts.Dir, tap), logOffset, out, p.exited, stop, p.logged)
	}
	return p, nil
}

// end asks p to exit (SIGTERM), SIGKILL after grace (at once when grace
// is 0), and waits until it has: at most grace plus a bound for SIGKILL.
// killed tells whether SIGKILL was sent.
func (p *proc) end(grace time.Duration) (killed bool, err error) {
	sig := syscall.SIGTERM
	if grace == 0 {
		sig, killed = syscall.SIGKILL, true
	}
	if err := p.signal(sig); err != nil && !p.hasExited() {
		return killed, fmt.Errorf("signal openvpn %d: %w", p.pid, err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	if !killed {
		select {
		case <-p.exited:
			return false, nil
		case <-timer.C:
		}
		if err := p.signal(syscall.SIGKILL); err != nil && !p.hasExited() {
			return true, fmt.Errorf("kill openvpn %d: %w", p.pid, err)
		}
		killed = true
	}
	select {
	case <-p.exited:
		return killed, nil
	case <-time.After(10 * time.Second):
		return killed, fmt.Errorf("openvpn %d still there 10 s after SIGKILL", p.pid)
	}
}

func (p *proc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// status says how p ended; call once exited is closed.
func (p *proc) status() string { return exitStatus(p.err, p.pid) }

// errStatusUnknown is how an adopted process ended: it is not our child,
// its exit status went to whoever reaped it.
var errStatusUnknown = errors.New("exited (not a child of this daemon: status unknown)")

// childEnv is the daemon's environment without systemd's notify variables:
// openvpn (built with systemd support) would otherwise send its own READY=1
// and status lines to the daemon's unit.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != "NOTIFY_SOCKET" && k != "WATCHDOG_USEC" && k != "WATCHDOG_PID" {
			out = append(out, kv)
		}
	}
	return out
}
