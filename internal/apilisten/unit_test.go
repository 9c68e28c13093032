package apilisten

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	tcp := func(s string) net.Addr {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			t.Fatalf("resolving %s: %v", s, err)
		}
		return a
	}
	for _, tc := range []struct {
		addr net.Addr
		want bool
	}{
		{tcp("127.0.0.1:1"), true},
		{tcp("127.1.2.3:1"), true},
		{tcp("[::1]:1"), true},
		{tcp("[::ffff:127.0.0.1]:1"), true},
		{&net.UDPAddr{IP: net.ParseIP("::ffff:127.9.9.9"), Port: 1}, true}, // parsed from String()
		{tcp("10.0.0.1:1"), false},
		{tcp("[::ffff:10.0.0.1]:1"), false},
		{tcp("[2001:db8::1]:1"), false},
		{tcp("[fe80::1%lo]:1"), false},
		{&net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, false},
		{nil, false},
	} {
		if got := isLoopback(tc.addr); got != tc.want {
			t.Errorf("isLoopback(%v) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

func TestRemoteKeyDropsPort(t *testing.T) {
	a := &net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 4242}
	if got := remoteKey(a); got != "192.0.2.7" {
		t.Fatalf("remoteKey(%v) = %q, want 192.0.2.7", a, got)
	}
}

func TestRefusalIsAValidHTTPAnswer(t *testing.T) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(refusal())), nil)
	if err != nil {
		t.Fatalf("parsing the refusal: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	if resp.StatusCode != http.StatusBadRequest || !resp.Close ||
		resp.Header.Get("Content-Type") != "application/json" || resp.ContentLength != int64(len(body)) {
		t.Fatalf("got %d close=%v type=%q length=%d/%d", resp.StatusCode, resp.Close,
			resp.Header.Get("Content-Type"), resp.ContentLength, len(body))
	}
	var answer map[string]string
	if err := json.Unmarshal(body, &answer); err != nil || answer["error"] != refusalMessage || len(answer) != 1 {
		t.Fatalf("body %q (%v), want {\"error\": refusalMessage}", body, err)
	}
}

func TestPeekedConnReturnsThePeekedByteFirst(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		_, _ = b.Write([]byte("ET /"))
		_ = b.Close()
	}()
	pc := &peekedConn{Conn: a, first: 'G', unread: true}
	if n, err := pc.Read(nil); n != 0 || err != nil {
		t.Fatalf("empty Read: %d, %v", n, err)
	}
	got, err := io.ReadAll(pc)
	if err != nil || string(got) != "GET /" {
		t.Fatalf("read %q, %v; want \"GET /\"", got, err)
	}
}
