package tunnel

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/errkind"
)

var keyRE = regexp.MustCompile(`^-----BEGIN OpenVPN Static key V1-----\n([0-9a-f]{32}\n){16}-----END OpenVPN Static key V1-----\n$`)

func TestGenerateKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "link.key")
	if err := GenerateKey(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !keyRE.Match(data) {
		t.Fatalf("key format:\n%s", data)
	}
	if err := ParseKey(data); err != nil {
		t.Fatalf("ParseKey of a generated key: %v", err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}

	// Idempotent: an existing valid key is kept (and made 0600).
	os.Chmod(path, 0o644)
	if err := GenerateKey(path); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(path)
	if !bytes.Equal(again, data) {
		t.Error("GenerateKey replaced an existing valid key")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after second call, want 0600", fi.Mode().Perm())
	}

	// Random: another file gets another key.
	other := filepath.Join(dir, "other.key")
	if err := GenerateKey(other); err != nil {
		t.Fatal(err)
	}
	if o, _ := os.ReadFile(other); bytes.Equal(o, data) {
		t.Error("two generated keys are equal")
	}

	// No temporary files are left.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("dir holds %d entries, want 2", len(ents))
	}
}

func TestGenerateKeyKeepsForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "link.key")
	os.WriteFile(path, []byte("not a key\n"), 0o600)
	err := GenerateKey(path)
	if !errors.Is(err, errkind.ErrConflict) {
		t.Fatalf("GenerateKey over a non-key file: %v, want a conflict", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "not a key\n" {
		t.Error("GenerateKey overwrote a file that is not a key")
	}
}

func validKey(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "k")
	if err := GenerateKey(path); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	return string(data)
}

func TestParseKey(t *testing.T) {
	good := validKey(t)
	lines := strings.Split(strings.TrimSuffix(good, "\n"), "\n")
	join := func(l []string) string { return strings.Join(l, "\n") + "\n" }
	replace := func(i int, s string) string {
		l := append([]string(nil), lines...)
		l[i] = s
		return join(l)
	}
	genkeyComments := "#\n# 2048 bit OpenVPN static key\n#\n"
	for _, c := range []struct {
		name string
		data string
		ok   bool
	}{
		{"generated", good, true},
		{"no final newline", strings.TrimSuffix(good, "\n"), true},
		{"upper-case hex", strings.ToUpper(lines[1]) + "\n" + good, false}, // extra line
		{"upper-case hex line", replace(1, strings.ToUpper(lines[1])), true},
		{"openvpn --genkey comments", genkeyComments + good, true},
		{"empty", "", false},
		{"wrong header", replace(0, "-----BEGIN OpenVPN Static key V2-----"), false},
		{"wrong footer", replace(17, "-----END OpenVPN Static key-----"), false},
		{"private key", "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n", false},
		{"short", join(append(append([]string(nil), lines[:15]...), lines[17])), false},
		{"long line", replace(3, lines[3]+"00"), false},
		{"short line", replace(3, lines[3][:30]), false},
		{"non-hex", replace(5, "g"+lines[5][1:]), false},
		{"space in line", replace(5, " "+lines[5][1:]), false},
		{"crlf", strings.ReplaceAll(good, "\n", "\r\n"), false},
		{"two final newlines", good + "\n", false},
		{"trailing garbage", good + "x\n", false},
		{"comment after header", replace(1, "# hi"), false},
		{"control char in comment", "#\x1b[31m\n" + good, false},
		{"too many comments", strings.Repeat("#\n", 17) + good, false},
		{"huge", good + strings.Repeat("#", 5000), false},
		{"huge comment", strings.Repeat("#"+strings.Repeat("x", 400)+"\n", 10) + good, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := ParseKey([]byte(c.data))
			if c.ok && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !c.ok && !errors.Is(err, errkind.ErrInvalid) {
				t.Fatalf("got %v, want an errkind.Invalid error", err)
			}
		})
	}
}

func TestWriteKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "link.key")
	if err := WriteKey(path, []byte("garbage")); !errors.Is(err, errkind.ErrInvalid) {
		t.Fatalf("WriteKey(garbage) = %v, want invalid", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("WriteKey(garbage) left a file")
	}
	for i := range 2 { // the second replaces the first
		k := validKey(t)
		if err := WriteKey(path, []byte(k)); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		if string(got) != k {
			t.Fatalf("write %d: content differs", i)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("dir holds %d entries, want 1", len(ents))
	}
}
