package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"

	"github.com/multilink/multilink/thread"
)

// Daemon is a multilink daemon running in a network namespace, driven
// through its REST API.
type Daemon struct {
	Name  string
	ns    netns.NsHandle
	addr  string // host:port, inside ns
	token string
	cmd   *exec.Cmd
	done  chan error
	logs  *logBuffer
}

// StartDaemon runs `bin daemon` in ns with the token (from a file in dir,
// 0600), its state in dir, listening on 127.0.0.1 and listen's port inside
// ns, plus extra flags, and waits (bounded) until its API answers. The
// daemon dies with this process (parent-death signal).
func StartDaemon(ctx context.Context, name string, ns netns.NsHandle, bin, dir, listen, token string, extra ...string) (*Daemon, error) {
	tokenFile := filepath.Join(dir, "api-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write token: %w", err)
	}
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", listen, err)
	}
	d := &Daemon{Name: name, ns: ns, addr: net.JoinHostPort("127.0.0.1", port), token: token, done: make(chan error, 1), logs: &logBuffer{}}
	args := append([]string{"daemon", "--listen", listen, "--state-dir", filepath.Join(dir, "state"),
		"--token-file", tokenFile, "--log-format", "json"}, extra...)
	started := make(chan error, 1)
	// The child is born in the thread's namespace; the thread waits for it
	// so that the parent-death signal is tied to a live thread.
	go func() {
		_ = thread.In(ns, func() error {
			d.cmd = exec.Command(bin, args...)
			d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
			d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
			if err := d.cmd.Start(); err != nil {
				started <- fmt.Errorf("start %s daemon: %w", name, err)
				return err
			}
			started <- nil
			d.done <- d.cmd.Wait()
			return nil
		})
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var v struct{ Version string }
		if _, err := d.Call(ctx, http.MethodGet, "/version", nil, &v); err == nil {
			return d, nil
		}
		select {
		case err := <-d.done:
			d.done <- err
			return nil, fmt.Errorf("%s daemon exited: %v\n%s", name, err, d.logs.tail(20))
		case <-ctx.Done():
			d.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("%s daemon's API did not answer within 20 s\n%s", name, d.logs.tail(20))
		}
	}
}

// Call sends a request with the token and decodes a JSON answer into out
// (may be nil). A status of 300 or more is an error with the answer's text.
func (d *Daemon) Call(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+d.addr+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.client().Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: answer is not JSON: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// client dials inside the daemon's namespace.
func (d *Daemon) client() *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := thread.In(d.ns, func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	return &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}

// Stop ends the daemon with SIGTERM (it removes what it made) and waits,
// SIGKILL after 30 s.
func (d *Daemon) Stop() error {
	if d.cmd == nil || d.cmd.Process == nil {
		return nil
	}
	select {
	case err := <-d.done:
		d.done <- err
		return nil
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return err
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		return fmt.Errorf("%s daemon did not stop within 30 s; killed", d.Name)
	}
}

// Logs returns the daemon's last n log lines.
func (d *Daemon) Logs(n int) string { return d.logs.tail(n) }

// logBuffer keeps a daemon's output.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 4<<20 {
		l.b.Reset() // bounded: the demo is short, this is a safety net
	}
	return l.b.Write(p)
}

func (l *logBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := bytes.Split(bytes.TrimRight(l.b.Bytes(), "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
