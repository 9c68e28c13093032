package apilisten

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTLSClientIsServedWithTLS(t *testing.T) {
	cfg, pool := selfSigned(t)
	// Not loopback, to show TLS is served from anywhere.
	l := newListener(listen(t), Options{TLS: cfg}, testOptions(notLoopback))
	serve(t, l)
	status, _, body := get(t, client(t, pool), "https://"+l.Addr().String()+"/")
	if status != http.StatusOK || body != "tls" {
		t.Fatalf("got %d %q, want 200 \"tls\"", status, body)
	}
}

func TestPlainClientFromLoopbackIsServed(t *testing.T) {
	cfg, _ := selfSigned(t)
	l := New(listen(t), Options{TLS: cfg})
	serve(t, l)
	status, _, body := get(t, client(t, nil), "http://"+l.Addr().String()+"/")
	if status != http.StatusOK || body != "plain" {
		t.Fatalf("got %d %q, want 200 \"plain\"", status, body)
	}
}

func TestPlainClientFromElsewhereIsRefused(t *testing.T) {
	cfg, _ := selfSigned(t)
	logs := &records{}
	l := newListener(listen(t), Options{TLS: cfg, Logger: slog.New(logs)}, testOptions(notLoopback))
	serve(t, l)
	url := "http://" + l.Addr().String() + "/"
	for range 2 {
		status, ctype, body := get(t, client(t, nil), url)
		if status != http.StatusBadRequest || ctype != "application/json" {
			t.Fatalf("got %d %q, want 400 application/json", status, ctype)
		}
		var answer struct{ Error string }
		if err := json.Unmarshal([]byte(body), &answer); err != nil {
			t.Fatalf("decoding %q: %v", body, err)
		}
		for _, want := range []string{"TLS", "https://", "server_api_pin", "multilink fingerprint", "--insecure-plain-http"} {
			if !strings.Contains(answer.Error, want) {
				t.Errorf("error %q lacks %q", answer.Error, want)
			}
		}
	}
	warned := logs.warnings()
	if len(warned) != 1 || !strings.HasPrefix(warned[0], "127.0.0.1:") {
		t.Fatalf("Warn records' remotes = %q, want one 127.0.0.1:port", warned)
	}
}

func TestRefusedConnectionIsClosed(t *testing.T) {
	cfg, _ := selfSigned(t)
	l := newListener(listen(t), Options{TLS: cfg}, testOptions(notLoopback))
	serve(t, l)
	c := dial(t, l.Addr().String())
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatalf("writing request: %v", err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !resp.Close {
		t.Fatalf("got %d close=%v, want 400 close=true", resp.StatusCode, resp.Close)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the answer: %q, %v; want EOF (the second request unanswered)", rest, err)
	}
}

func TestAllowPlainServesPlainFromAnywhere(t *testing.T) {
	cfg, _ := selfSigned(t)
	l := newListener(listen(t), Options{TLS: cfg, AllowPlain: true}, testOptions(notLoopback))
	serve(t, l)
	status, _, body := get(t, client(t, nil), "http://"+l.Addr().String()+"/")
	if status != http.StatusOK || body != "plain" {
		t.Fatalf("got %d %q, want 200 \"plain\"", status, body)
	}
}

func TestNilTLSReturnsInner(t *testing.T) {
	ln := listen(t)
	defer ln.Close()
	if got := New(ln, Options{}); got != ln {
		t.Fatalf("New with nil TLS = %T, want the inner listener", got)
	}
}

func TestSilentClientDoesNotBlockOthers(t *testing.T) {
	cfg, pool := selfSigned(t)
	l := New(listen(t), Options{TLS: cfg}) // 10 s peek timeout: longer than wait
	serve(t, l)
	silent := dial(t, l.Addr().String())
	defer silent.Close()
	start := time.Now()
	if status, _, _ := get(t, client(t, nil), "http://"+l.Addr().String()+"/"); status != http.StatusOK {
		t.Fatalf("plain: got %d, want 200", status)
	}
	if status, _, _ := get(t, client(t, pool), "https://"+l.Addr().String()+"/"); status != http.StatusOK {
		t.Fatalf("tls: got %d, want 200", status)
	}
	if d := time.Since(start); d > wait {
		t.Fatalf("requests took %v behind a silent client", d)
	}
}

func TestSilentClientIsDroppedAfterPeekTimeout(t *testing.T) {
	cfg, _ := selfSigned(t)
	l := New(listen(t), Options{TLS: cfg, PeekTimeout: 100 * time.Millisecond})
	serve(t, l)
	expectClosed(t, dial(t, l.Addr().String()))
}

func TestConnectionsBeyondTheBoundAreClosed(t *testing.T) {
	cfg, _ := selfSigned(t)
	opt := testOptions(isLoopback)
	opt.maxPending = 1
	l := newListener(listen(t), Options{TLS: cfg}, opt)
	serve(t, l)
	silent := dial(t, l.Addr().String())
	defer silent.Close()
	time.Sleep(50 * time.Millisecond) // let the listener take the silent one first
	expectClosed(t, dial(t, l.Addr().String()))
}

func TestCloseUnblocksAccept(t *testing.T) {
	cfg, _ := selfSigned(t)
	l := New(listen(t), Options{TLS: cfg})
	silent := dial(t, l.Addr().String())
	defer silent.Close()
	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if c != nil {
			_ = c.Close()
		}
		accepted <- err
	}()
	time.Sleep(50 * time.Millisecond) // let Accept block
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(wait):
		t.Fatal("Accept still blocked after Close")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Accept: %v, want net.ErrClosed", err)
	}
	expectClosed(t, silent) // Close dropped the connection being peeked
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// dial connects to addr and closes the connection when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatalf("dialing %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// expectClosed checks that the peer closes c within wait, with no data.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatalf("setting deadline: %v", err)
	}
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil || errors.Is(err, net.ErrClosed) || isTimeout(err) {
		t.Fatalf("read %d bytes, %v; want the peer to close the connection", n, err)
	}
}

// isTimeout tells whether err is a deadline error.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
