package daemon

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestStateDirLockedOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	d, err := openStateDir(dir, readers{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	_, err = openStateDir(dir, readers{}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second open: %v, want an error naming the dir and this pid", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = openStateDir(dir, readers{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	d.Close()
}

func TestStateDirMadePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // past the umask
		t.Fatal(err)
	}
	var logs bytes.Buffer
	d, err := openStateDir(dir, readers{}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %04o, want 0700", fi.Mode().Perm())
	}
	if !strings.Contains(logs.String(), "was=0755") {
		t.Errorf("no warning naming the old mode: %s", logs.String())
	}
}

func TestStateDirNotADir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openStateDir(file, readers{}, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a file accepted as the state dir")
	}
}

func TestTokenFileMadePrivate(t *testing.T) {
	for _, name := range []string{"state dir's", "--token-file"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "token")
			o := Options{StateDir: dir}
			if name == "--token-file" {
				path = filepath.Join(t.TempDir(), "my-token")
				o.TokenFile = path
			}
			if err := os.WriteFile(path, []byte("0123456789abcdef0123\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			tok, err := apiToken(o, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil || tok != "0123456789abcdef0123" {
				t.Fatalf("token %q, %v", tok, err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("token file mode %04o, want 0600", fi.Mode().Perm())
			}
			if !strings.Contains(logs.String(), "readable by others") {
				t.Errorf("no warning: %s", logs.String())
			}
		})
	}
}
