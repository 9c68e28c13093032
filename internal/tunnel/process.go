package tunnel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/multilink/multilink/internal/nsthread"
)

// runProcess runs `openvpn --config conf` in the Manager's namespace and
// waits for it on the thread that forked it (see package thread). It calls
// started with the PID once the process runs. When ctx ends the process
// gets SIGTERM, and SIGKILL after StopTimeout. Its niceness is set to
// Options.Nice as soon as it runs (openvpn drops root later). The argv holds nothing but
// the binary and the config file's path; no shell is involved.
func (m *Manager) runProcess(ctx context.Context, bin, conf string, out *output, started func(pid int)) error {
	return nsthread.In(m.ns, func() error {
		cmd := exec.CommandContext(ctx, bin, "--config", conf)
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = m.opts.StopTimeout
		cmd.SysProcAttr = procAttr()
		cmd.Env = childEnv(os.Environ())
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", bin, err)
		}
		out.setPID(cmd.Process.Pid)
		if n := m.opts.Nice; n != 0 {
			if err := syscall.Setpriority(syscall.PRIO_PROCESS, cmd.Process.Pid, n); err != nil {
				m.log.Warn("openvpn keeps its default priority", "pid", cmd.Process.Pid, "nice", n, "err", err)
			}
		}
		started(cmd.Process.Pid)
		err := cmd.Wait()
		out.flush()
		if err != nil && ctx.Err() != nil && cmd.ProcessState != nil {
			// Stopped on purpose: say how it ended (exit status 0 after
			// SIGTERM, or killed after StopTimeout), not "context canceled".
			err = errors.New(cmd.ProcessState.String())
		}
		return err
	})
}

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
