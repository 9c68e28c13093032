package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"
)

// supervise runs t's process until t.ctx ends, restarting it with backoff
// after every exit, then removes t's TAP, files and entry. Its first run
// is a, when an earlier run's process was adopted. The first start's
// result goes to first: nil once the process runs, or the error that kept
// it from starting, in which case supervise gives up. When t is released
// it returns leaving the process (or ending it, t.endOnRelease), the TAP
// and the files.
func (m *Manager) supervise(t *tun, bin string, first chan<- error, a *adoption) {
	defer close(t.done)
	released := false
	defer func() {
		if released {
			m.forget(t)
		} else {
			m.cleanup(t)
		}
	}()
	log := m.log.With("tap", t.spec.Tap)
	b := backoff{min: m.opts.MinBackoff, max: m.opts.MaxBackoff, stable: m.opts.StableAfter}
	reload := false // this run follows a Reconfigure, not an exit
	for run := 0; ; run++ {
		var err error
		if run > 0 {
			err = m.ensureTap(t)
		}
		out := &output{log: log, peer: func(exited bool, at time.Time) { m.peerSeen(t, exited, at) }}
		began := time.Now()
		rctx, reloaded := t.runContext()
		restarted := run > 0 && !reload
		var p *proc
		if err == nil {
			if run == 0 && a != nil {
				p = m.runAdopted(t, a, out)
			} else {
				p, err = m.startRun(t, bin, out, restarted)
			}
		}
		if first != nil {
			first <- err
			first = nil
			if err != nil { // the first start failed
				reloaded()
				return
			}
		}
		pid := 0
		if p != nil {
			pid = p.pid
			if run > 0 {
				log.Info("openvpn restarted", "pid", pid, "new_config", reload)
			}
			if released = m.waitRun(t, rctx, p, log); released {
				reloaded()
				return
			}
			err = p.err
		}
		if t.ctx.Err() != nil {
			log.Info("openvpn stopped", "pid", pid, "status", exitStatus(err, pid), "output", out.last())
			return
		}
		if reload = reloaded(); reload {
			log.Info("openvpn stopped for a new run", "pid", pid)
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
		case <-t.released:
			timer.Stop()
			released = true
			return
		case <-timer.C:
		case <-t.reload: // a new config: try it now
			timer.Stop()
		}
	}
}

// startRun starts a new openvpn for t, notes it running and writes its
// pid file.
func (m *Manager) startRun(t *tun, bin string, out *output, restarted bool) (*proc, error) {
	text, err := os.ReadFile(t.conf)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	p, err := m.startChild(bin, t.spec.Tap, out, t.released)
	if err != nil {
		return nil, err
	}
	m.renice(p.pid)
	restarts := m.setRunning(t, p, restarted)
	r, err := newPidRecord(p.pid, bin, text, m.netns, restarts)
	if err == nil {
		err = writePidFile(pidPath(m.opts.Dir, t.spec.Tap), r)
	}
	if err != nil {
		// It runs; only a later Manager cannot adopt it.
		m.log.Warn("openvpn without a pid file", "tap", t.spec.Tap, "pid", p.pid, "err", err)
	}
	return p, nil
}

// runAdopted makes an adopted process t's current run.
func (m *Manager) runAdopted(t *tun, a *adoption, out *output) *proc {
	out.setPID(a.p.pid)
	out.prime(a.lines)
	if a.logged {
		a.p.logged = make(chan struct{})
		go follow(logPath(m.opts.Dir, t.spec.Tap), a.offset, out, a.p.exited, t.released, a.p.logged)
	}
	m.renice(a.p.pid)
	m.setRunning(t, a.p, false)
	return a.p
}

// renice gives process pid Options.Nice (openvpn drops root later; an
// adopted one may have been started with another niceness).
func (m *Manager) renice(pid int) {
	if n := m.opts.Nice; n != 0 {
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, pid, n); err != nil {
			m.log.Warn("openvpn keeps its priority", "pid", pid, "nice", n, "err", err)
		}
	}
}

// waitRun waits until p exits, ending it when rctx ends (SIGTERM, SIGKILL
// after StopTimeout); released tells that t was released instead, p then
// left running or ended as EndStrays does (t.endOnRelease).
func (m *Manager) waitRun(t *tun, rctx context.Context, p *proc, log *slog.Logger) (released bool) {
	select {
	case <-p.exited:
	case <-t.released:
		if t.endOnRelease {
			grace := strayGrace
			if t.spec.Role == Client {
				grace = 0
			}
			if killed, err := p.end(grace); err != nil {
				log.Warn("ending openvpn at release", "pid", p.pid, "err", err)
			} else {
				log.Info("openvpn ended at release", "pid", p.pid, "killed", killed)
			}
		}
		if p.release != nil {
			p.release()
		}
		return true
	case <-rctx.Done():
		grace := m.opts.StopTimeout
		if t.quick.Swap(false) {
			grace = 0
		}
		if _, err := p.end(grace); err != nil {
			log.Error("stopping openvpn", "pid", p.pid, "err", err)
		}
	}
	if p.logged != nil {
		<-p.logged
	}
	return false
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

// setRunning notes p as t's running process and returns the restarts.
func (m *Manager) setRunning(t *tun, p *proc, restart bool) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.p = p
	t.st.Running, t.st.PID, t.st.Since = true, p.pid, time.Now()
	if restart {
		t.st.Restarts++
	}
	return t.st.Restarts
}

func (m *Manager) setExited(t *tun, status string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.p = nil
	t.st.Running, t.st.PID, t.st.LastExit, t.st.Since = false, 0, status, time.Now()
}

// ensureTap creates t's TAP again, with its remembered admin state, if it
// vanished; a persistent TAP normally outlives openvpn.
func (m *Manager) ensureTap(t *tun) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	info, err := m.dev.inspect(t.spec.Tap)
	switch {
	case err != nil:
		return err
	case info.found && !info.idle():
		return fmt.Errorf("interface %s is not an idle TAP of ours", t.spec.Tap)
	case info.found:
		return nil
	}
	m.log.Warn("tap vanished, creating it again", "tap", t.spec.Tap, "up", t.st.AdminUp)
	return m.dev.createTap(t.spec.Tap, t.st.AdminUp)
}

// cleanup removes t's TAP, config, pid and log files and entry; t.err
// says what failed.
func (m *Manager) cleanup(t *tun) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.cancel()
	var errs []error
	if err := m.dev.remove(t.spec.Tap); err != nil {
		errs = append(errs, err)
	}
	for _, f := range []string{t.conf, pidPath(m.opts.Dir, t.spec.Tap), logPath(m.opts.Dir, t.spec.Tap)} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove %s: %w", filepath.Base(f), err))
		}
	}
	t.err = errors.Join(errs...)
	if t.err != nil {
		m.log.Error("tunnel cleanup", "tap", t.spec.Tap, "err", t.err)
	}
	if m.tunnels[t.spec.Tap] == t {
		delete(m.tunnels, t.spec.Tap)
	}
}

// forget drops a released t's entry; its TAP, files and process stay.
func (m *Manager) forget(t *tun) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.cancel()
	t.p = nil
	if m.tunnels[t.spec.Tap] == t {
		delete(m.tunnels, t.spec.Tap)
	}
}

// peerSeen notes what a process said of its peer: a session initiated
// (Status.Connected), or the peer's exit (told to Options.PeerExit).
func (m *Manager) peerSeen(t *tun, exited bool, at time.Time) {
	if exited {
		if m.opts.PeerExit != nil {
			m.opts.PeerExit(t.spec.Tap)
		}
		return
	}
	m.mu.Lock()
	if at.After(t.st.Connected) {
		t.st.Connected = at
	}
	m.mu.Unlock()
}
