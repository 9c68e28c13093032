package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multilink/multilink/nstest"
)

// binary is the multilink binary under test, built once per test run.
var binary struct {
	once sync.Once
	path string
	err  error
}

func buildBinary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		if p := os.Getenv("MULTILINK_BIN"); p != "" {
			binary.path = p
			return
		}
		dir, err := os.MkdirTemp("", "multilink-e2e-bin-")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "multilink")
		cmd := exec.Command("go", "build", "-o", binary.path, "github.com/multilink/multilink/cmd/multilink")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatalf("build multilink: %v", binary.err)
	}
	return binary.path
}

// daemon is one multilink daemon running inside a namespace.
type daemon struct {
	t        testing.TB
	ns       *nstest.NS
	addr     string // API address inside the namespace
	token    string
	stateDir string
	cmd      *exec.Cmd
	logs     *syncBuffer
	done     chan error
}

// startDaemon runs `multilink daemon` in ns, listening on addr, and waits
// until its API answers.
func startDaemon(t testing.TB, ns *nstest.NS, addr, token string, extra ...string) *daemon {
	t.Helper()
	return startDaemonIn(t, ns, addr, token, t.TempDir(), extra...)
}

// startDaemonIn is startDaemon on a given state dir.
func startDaemonIn(t testing.TB, ns *nstest.NS, addr, token, stateDir string, extra ...string) *daemon {
	t.Helper()
	bin := buildBinary(t)
	d := &daemon{t: t, ns: ns, addr: addr, token: token, stateDir: stateDir, logs: &syncBuffer{}, done: make(chan error, 1)}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"daemon", "--listen", addr, "--state-dir", d.stateDir, "--token-file", tokenFile, "--log-level", "debug"}, extra...)
	d.cmd = ns.Command(context.Background(), bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start daemon in %s: %v", ns.Name, err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("daemon %s log:\n%s", ns.Name, d.logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	if strings.HasPrefix(addr, "0.0.0.0:") {
		d.addr = "127.0.0.1:" + strings.TrimPrefix(addr, "0.0.0.0:")
	}
	for {
		resp, err := d.do(http.MethodGet, "/version", nil, false)
		if err == nil {
			resp.Body.Close()
			return d
		}
		select {
		case err := <-d.done:
			t.Fatalf("daemon in %s exited: %v\n%s", ns.Name, err, d.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon in %s did not answer within 15s: %v\n%s", ns.Name, err, d.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the daemon with SIGTERM (as Kubernetes does) and waits for it.
func (d *daemon) stop() error {
	if d.cmd.Process == nil {
		return nil
	}
	select {
	case err := <-d.done:
		d.done <- err
		return err
	default:
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		err := <-d.done
		d.done <- err
		return fmt.Errorf("daemon did not stop within 30s: %v", err)
	}
}

// client is an HTTP client whose connections are made inside ns.
func (d *daemon) client() *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := d.ns.Do(func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	return &http.Client{Timeout: 120 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}

// do sends a request; auth adds the bearer token.
func (d *daemon) do(method, path string, body []byte, auth bool) (*http.Response, error) {
	req, err := http.NewRequest(method, "http://"+d.addr+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	return d.client().Do(req)
}

// call sends a request with the token and decodes the JSON answer into out
// (may be nil); it returns the status code.
func (d *daemon) call(method, path string, body []byte, out any) int {
	d.t.Helper()
	return d.callAuth(method, path, body, out, true)
}

func (d *daemon) callAuth(method, path string, body []byte, out any, auth bool) int {
	d.t.Helper()
	resp, err := d.do(method, path, body, auth)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			d.t.Fatalf("%s %s: %d, body is not JSON: %v\n%s", method, path, resp.StatusCode, err, data)
		}
	}
	if resp.StatusCode >= 300 {
		d.t.Logf("%s %s -> %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	return resp.StatusCode
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the log lines that contain substr.
func (s *syncBuffer) lines(substr string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			out = append(out, sc.Text())
		}
	}
	return out
}
