package tunnel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPidFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	r := pidRecord{PID: 42, StartTicks: 1234, BootID: "b", PidNS: 7, NetNS: 8, Bin: "/usr/sbin/openvpn",
		ConfSHA256: confSum([]byte("dev tap1\n")), Restarts: 3}
	path := pidPath(dir, "tap1")
	if path != filepath.Join(dir, "tap1.pid") {
		t.Fatalf("pid file path %s", path)
	}
	if err := writePidFile(path, r); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pid file: %v %v, want mode 0600", fi, err)
	}
	got, err := readPidFile(path)
	if err != nil || got != r {
		t.Fatalf("read back %+v %v, want %+v", got, err, r)
	}
	for _, bad := range []string{"", "{", `{"pid":42}`, `{"pid":42,"start_ticks":1,"boot_id":"b","pidns":1,"netns":1}`} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readPidFile(path); err == nil {
			t.Errorf("pid file %q accepted", bad)
		}
	}
	if _, err := readPidFile(filepath.Join(dir, "none.pid")); !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing pid file: %v, want not exist", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tap1.log")
	var b strings.Builder
	for i := range 30 {
		b.WriteString(strings.Repeat("x", i) + "\n")
	}
	b.WriteString("partial")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	size, lines := logTail(path)
	if size != int64(b.Len()) || len(lines) != outputLines || lines[0] != strings.Repeat("x", 10) || lines[19] != strings.Repeat("x", 29) {
		t.Errorf("logTail = %d %q", size, lines)
	}
}
