package daemon

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEndpointOf(t *testing.T) {
	for addr, want := range map[string]string{
		"0.0.0.0:3333":     "https://127.0.0.1:3333",
		"[::]:3333":        "https://[::1]:3333",
		"192.0.2.1:3333":   "https://192.0.2.1:3333",
		"[2001:db8::1]:80": "https://[2001:db8::1]:80",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		e, err := endpointOf(tcp, "sha256//pin", "")
		if err != nil || e.URL != want || e.Pin != "sha256//pin" {
			t.Errorf("%s: %+v %v, want %s", addr, e, err, want)
		}
	}
}

// TestEndpointFile: what the daemon writes the command line reads back;
// without the file the error says no daemon runs there; the token comes
// from the daemon's --token-file when it had one, else the state dir's.
func TestEndpointFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadEndpoint(dir); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("no file: %v, want ErrNoDaemon", err)
	}
	want := Endpoint{URL: "https://127.0.0.1:3333", Pin: "sha256//x", TokenFile: "/etc/multilink/token"}
	if err := writeEndpoint(dir, want); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, endpointFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("endpoint file: %v %v, want mode 0600", fi, err)
	}
	got, err := ReadEndpoint(dir)
	if err != nil || got != want {
		t.Errorf("read back %+v %v, want %+v", got, err, want)
	}
	if err := removeEndpoint(dir); err != nil {
		t.Fatal(err)
	}
	if err := removeEndpoint(dir); err != nil {
		t.Errorf("removing it twice: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, endpointFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadEndpoint(dir); err == nil || !strings.Contains(err.Error(), "not an endpoint") {
		t.Errorf("a broken file: %v", err)
	}

	if tok, err := ReadToken(dir, ""); tok != "" || err != nil {
		t.Errorf("no token file: %q %v, want none", tok, err)
	}
	own := filepath.Join(dir, "my-token")
	if err := os.WriteFile(own, []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := ReadToken(dir, own); tok != "0123456789abcdef0123" || err != nil {
		t.Errorf("--token-file: %q %v", tok, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadToken(dir, ""); err == nil {
		t.Error("a short token read without an error")
	}
}
