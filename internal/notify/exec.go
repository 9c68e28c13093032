package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/multilink/multilink/api"
)

// execPath is the PATH a hook program gets; the daemon's own environment
// (which may hold MULTILINK_API_TOKEN) is not passed on.
const execPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// waitDelay is how long a killed program's pipes may stay open (a
// grandchild that left the process group) before Wait gives up on them.
const waitDelay = time.Second

// program runs a hook's argv, no shell, in a process group of its own
// that is killed when the attempt's context ends.
type program struct{ argv []string }

// checkProgram reports whether argv[0] is an executable regular file.
func checkProgram(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// deliver runs the program with body on its standard input and the event
// in MULTILINK_* variables; exit status 0 is success.
func (p program) deliver(ctx context.Context, body []byte, e api.Event) error {
	cmd := exec.CommandContext(ctx, p.argv[0], p.argv[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = eventEnv(e)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The whole group: a script's children go with it.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("run %s: killed: %w", p.argv[0], ctx.Err())
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission):
		return backoff.Permanent(fmt.Errorf("run %s: %w", p.argv[0], err))
	}
	if s := strings.TrimSpace(out.String()); s != "" {
		return fmt.Errorf("run %s: %w: %s", p.argv[0], err, s)
	}
	return fmt.Errorf("run %s: %w", p.argv[0], err)
}

// eventEnv is a hook program's environment: PATH and the event's fields.
func eventEnv(e api.Event) []string {
	env := []string{execPath, "MULTILINK_EVENT_TYPE=" + e.Kind, "MULTILINK_BOND=" + e.Bond,
		"MULTILINK_EVENT_AT=" + e.At.UTC().Format(time.RFC3339Nano)}
	add := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	add("MULTILINK_FROM", e.From)
	add("MULTILINK_TO", e.To)
	add("MULTILINK_REASON", e.Reason)
	add("MULTILINK_LINK", e.Link)
	add("MULTILINK_STATE", string(e.State))
	return env
}

// tailMax is how much of a program's output is kept for the log.
const tailMax = 512

// tail keeps the last tailMax bytes written to it.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if n := len(t.b) - tailMax; n > 0 {
		t.b = append(t.b[:0], t.b[n:]...)
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.b) }
