package daemon

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAPIToken(t *testing.T) {
	const env = "0123456789abcdef-from-env"
	const fromFile = "0123456789abcdef-from-file"
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(fromFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		o       Options
		want    string // "generated": the state dir's new token
		warning string // in the log
	}{
		{"env and insecure: the token wins", Options{Token: env, Insecure: true}, env, "--insecure-no-auth is ignored"},
		{"file and insecure: the token wins", Options{TokenFile: file, Insecure: true}, fromFile, "--insecure-no-auth is ignored"},
		{"insecure alone: no auth", Options{Insecure: true}, "", "AUTHENTICATION IS OFF"},
		{"env", Options{Token: env}, env, ""},
		{"env beats file", Options{Token: env, TokenFile: file}, env, ""},
		{"file", Options{TokenFile: file}, fromFile, ""},
		{"nothing: generated", Options{}, "generated", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			c.o.StateDir = t.TempDir()
			got, err := apiToken(c.o, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "generated" {
				data, err := os.ReadFile(filepath.Join(c.o.StateDir, "token"))
				if err != nil || strings.TrimSpace(string(data)) != got || len(got) < minTokenLen {
					t.Errorf("generated token %q, file %q (%v)", got, data, err)
				}
			} else if got != c.want {
				t.Errorf("token %q, want %q", got, c.want)
			}
			if c.warning != "" && !strings.Contains(logs.String(), c.warning) {
				t.Errorf("log does not warn %q:\n%s", c.warning, logs.String())
			}
			if strings.Contains(logs.String(), env) || strings.Contains(logs.String(), fromFile) {
				t.Errorf("the token is in the log:\n%s", logs.String())
			}
		})
	}
	if _, err := apiToken(Options{Token: "short", Insecure: true, StateDir: t.TempDir()}, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a short token with --insecure-no-auth was accepted")
	}
}
