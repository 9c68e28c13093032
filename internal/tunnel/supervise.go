package tunnel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// supervise runs t's process until t.ctx ends, restarting it with backoff
// after every exit, then removes t's TAP, config file and entry. The
// first start's result goes to first: nil once the process runs, or the
// error that kept it from starting, in which case supervise gives up.
func (m *Manager) supervise(t *tun, bin string, first chan<- error) {
	defer close(t.done)
	defer m.cleanup(t)
	log := m.log.With("tap", t.spec.Tap)
	b := backoff{min: m.opts.MinBackoff, max: m.opts.MaxBackoff, stable: m.opts.StableAfter}
	reload := false // this run follows a Reconfigure, not an exit
	for run := 0; ; run++ {
		var err error
		if run > 0 {
			err = m.ensureTap(t)
		}
		pid := 0
		out := &output{log: log}
		began := time.Now()
		rctx, reloaded := t.runContext()
		restarted := run > 0 && !reload
		if err == nil {
			err = m.runProcess(rctx, bin, t.conf, out, func(p int) {
				pid = p
				m.setRunning(t, p, restarted)
				if run > 0 {
					log.Info("openvpn restarted", "pid", p, "new_config", reload)
				}
				if first != nil {
					first <- nil
					first = nil
				}
			})
		}
		if first != nil { // the first start failed
			if err == nil {
				err = errors.New("openvpn did not start")
			}
			first <- err
			return
		}
		if t.ctx.Err() != nil {
			log.Info("openvpn stopped", "pid", pid, "status", exitStatus(err, pid), "output", out.last())
			return
		}
		if reload = reloaded(); reload {
			log.Info("openvpn stopped for its new config", "pid", pid)
			continue
		}
		delay := b.next(time.Since(began))
		status := exitStatus(err, pid)
		m.setExited(t, status)
		log.Warn("openvpn exited", "pid", pid, "status", status,
			"ran", time.Since(began).Round(time.Millisecond), "restart_in", delay, "output", out.last())
		timer := time.NewTimer(delay)
		select {
		case <-t.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-t.reload: // a new config: try it now
			timer.Stop()
		}
	}
}

// runContext is the context of one run of t's process: it ends with t's,
// or when Reconfigure asks for a run with the new config; reloaded then
// tells which it was.
func (t *tun) runContext() (ctx context.Context, reloaded func() bool) {
	ctx, cancel := context.WithCancel(t.ctx)
	var asked atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-t.reload:
			asked.Store(true)
			cancel()
		case <-ctx.Done():
		}
	}()
	// Waiting for the watcher: a reload it took after the run ended on its
	// own is not lost, it starts the next run at once.
	return ctx, func() bool { cancel(); <-done; return asked.Load() }
}

// exitStatus describes how a run ended: the exit status or signal, or why
// no process ran.
func exitStatus(err error, pid int) string {
	switch {
	case pid == 0 && err != nil:
		return "not started: " + err.Error()
	case err != nil:
		return err.Error()
	}
	return "exit status 0"
}

func (m *Manager) setRunning(t *tun, pid int, restart bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.st.Running, t.st.PID, t.st.Since = true, pid, time.Now()
	if restart {
		t.st.Restarts++
	}
}

func (m *Manager) setExited(t *tun, status string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.st.Running, t.st.PID, t.st.LastExit, t.st.Since = false, 0, status, time.Now()
}

// ensureTap creates t's TAP again, with its remembered admin state, if it
// vanished; a persistent TAP normally outlives openvpn.
func (m *Manager) ensureTap(t *tun) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	found, idle, err := m.dev.lookup(t.spec.Tap)
	switch {
	case err != nil:
		return err
	case found && !idle:
		return fmt.Errorf("interface %s is not an idle TAP of ours", t.spec.Tap)
	case found:
		return nil
	}
	m.log.Warn("tap vanished, creating it again", "tap", t.spec.Tap, "up", t.st.AdminUp)
	return m.dev.createTap(t.spec.Tap, t.st.AdminUp)
}

// cleanup removes t's TAP, config file and entry; t.err says what failed.
func (m *Manager) cleanup(t *tun) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.cancel()
	var errs []error
	if err := m.dev.remove(t.spec.Tap); err != nil {
		errs = append(errs, err)
	}
	if err := os.Remove(t.conf); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("remove config: %w", err))
	}
	t.err = errors.Join(errs...)
	if t.err != nil {
		m.log.Error("tunnel cleanup", "tap", t.spec.Tap, "err", t.err)
	}
	if m.tunnels[t.spec.Tap] == t {
		delete(m.tunnels, t.spec.Tap)
	}
}
