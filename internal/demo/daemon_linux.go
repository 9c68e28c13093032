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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"

	"github.com/multilink/multilink/internal/nsthread"
)

// Daemon is a multilink daemon running in a network namespace, driven
// through its REST API. The demo and the end-to-end tests run the real
// binary this way.
type Daemon struct {
	Name     string
	StateDir string
	bin      string
	ns       netns.NsHandle
	addr     string // host:port, inside ns
	token    string
	cmd      *exec.Cmd
	done     chan error
	logs     *logBuffer
}

// DaemonOptions say how to run a daemon.
type DaemonOptions struct {
	Name     string
	NS       netns.NsHandle // the namespace it runs in
	Bin      string         // the multilink binary
	StateDir string         // --state-dir
	Listen   string         // --listen; the API is reached at 127.0.0.1:<its port> inside NS
	Token    string         // written to <StateDir>.token (0600), passed as --token-file
	Args     []string       // more flags
	// Prefix, if set, is a command the daemon runs under (its argv before
	// Bin): the unit test runs it under setpriv with the unit's
	// capabilities.
	Prefix []string
	// StartTimeout bounds the wait for its API (0: 20 s).
	StartTimeout time.Duration
}

// StartDaemon runs `o.Bin daemon` in o.NS and waits (bounded) until its
// API answers. The daemon dies with this process (parent-death signal).
func StartDaemon(ctx context.Context, o DaemonOptions) (*Daemon, error) {
	tokenFile := filepath.Clean(o.StateDir) + ".token"
	if err := os.WriteFile(tokenFile, []byte(o.Token+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write token: %w", err)
	}
	_, port, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", o.Listen, err)
	}
	d := &Daemon{Name: o.Name, StateDir: o.StateDir, bin: o.Bin, ns: o.NS, addr: net.JoinHostPort("127.0.0.1", port), token: o.Token,
		done: make(chan error, 1), logs: &logBuffer{}}
	args := append([]string{"daemon", "--listen", o.Listen, "--state-dir", o.StateDir, "--token-file", tokenFile}, o.Args...)
	started := make(chan error, 1)
	// The child is born in the thread's namespace; the thread waits for it
	// so that the parent-death signal is tied to a live thread.
	go func() {
		_ = nsthread.In(o.NS, func() error {
			argv := append(append(append([]string(nil), o.Prefix...), o.Bin), args...)
			d.cmd = exec.Command(argv[0], argv[1:]...)
			d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
			d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
			if err := d.cmd.Start(); err != nil {
				started <- fmt.Errorf("start %s daemon: %w", o.Name, err)
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
	wait := o.StartTimeout
	if wait <= 0 {
		wait = 20 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		if _, _, err := d.Do(ctx, http.MethodGet, "/version", nil, false); err == nil {
			return d, nil
		}
		select {
		case err := <-d.done:
			d.done <- err
			return nil, fmt.Errorf("%s daemon exited: %w\n%s", o.Name, err, d.logs.tail(20))
		case <-ctx.Done():
			d.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("%s daemon's API did not answer within %s\n%s", o.Name, wait, d.logs.tail(20))
		}
	}
}

// Do sends a request (with the token when auth) and returns the status and
// the answer's body, whatever the status.
func (d *Daemon) Do(ctx context.Context, method, path string, body []byte, auth bool) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+d.addr+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.client().Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	return resp.StatusCode, data, nil
}

// Call sends a request with the token and decodes a JSON answer into out
// (may be nil). A status of 300 or more is an error with the answer's text.
func (d *Daemon) Call(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	code, data, err := d.Do(ctx, method, path, body, true)
	if err != nil {
		return code, err
	}
	if code >= 300 {
		return code, fmt.Errorf("%s %s: %d: %s", method, path, code, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return code, fmt.Errorf("%s %s: answer is not JSON: %w", method, path, err)
		}
	}
	return code, nil
}

// client dials inside the daemon's namespace.
func (d *Daemon) client() *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := nsthread.In(d.ns, func() error {
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
	if d.ended() {
		return nil
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

// Kill ends the daemon with SIGKILL, as a crash would (it removes
// nothing), and waits for it.
func (d *Daemon) Kill() error {
	if d.ended() {
		return nil
	}
	if err := d.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill the %s daemon: %w", d.Name, err)
	}
	err := <-d.done
	d.done <- err
	return nil
}

// ended reports whether the daemon never ran or has exited.
func (d *Daemon) ended() bool {
	if d.cmd == nil || d.cmd.Process == nil {
		return true
	}
	select {
	case err := <-d.done:
		d.done <- err
		return true
	default:
		return false
	}
}

// Pin is the pin of the daemon's API key, as `multilink fingerprint`
// prints it on its host: a gateway's server_api_pin.
func (d *Daemon) Pin(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, d.bin, "fingerprint", "--state-dir", d.StateDir).Output()
	if err != nil {
		return "", fmt.Errorf("%s fingerprint --state-dir %s: %w", d.bin, d.StateDir, err)
	}
	pin := strings.TrimSpace(string(out))
	if !strings.HasPrefix(pin, "sha256//") {
		return "", fmt.Errorf("%s fingerprint printed %q, not a pin", d.bin, pin)
	}
	return pin, nil
}

// Pid is the daemon's process id.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Logs returns the daemon's last n log lines (0: all it kept).
func (d *Daemon) Logs(n int) string {
	if n == 0 {
		d.logs.mu.Lock()
		defer d.logs.mu.Unlock()
		return d.logs.b.String()
	}
	return d.logs.tail(n)
}

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
