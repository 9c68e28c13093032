package tunnel

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/testsupport"
)

// TestKeepOutlivesDaemon: a daemon (this test binary, re-executed) runs a
// real openvpn in a namespace and is killed with SIGKILL. With
// Options.Keep the openvpn goes on, its pid file names it, its output is
// in its log file and it never held the daemon's stdout (the daemon's
// pipe reaches EOF at its death). Without Keep it dies with the daemon, as
// always.
func TestKeepOutlivesDaemon(t *testing.T) {
	nstest.RequireCommand(t, "openvpn")
	for name, keep := range map[string]bool{"keep": true, "nokeep": false} {
		t.Run(name, func(t *testing.T) {
			ns := nstest.New(t, "keep")
			dir := t.TempDir()
			t.Cleanup(func() { _ = EndStrays(dir, testLogger(t)) }) // before the namespace goes
			key := filepath.Join(t.TempDir(), "link.key")
			if err := GenerateKey(key); err != nil {
				t.Fatal(err)
			}
			cfg, _ := json.Marshal(keepDaemonConfig{NetNS: ns.Path(), Dir: dir, Key: key, Keep: keep})
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(self)
			cmd.Env = append(os.Environ(), keepEnv+"="+string(cfg))
			cmd.Stderr = &testWriter{t: t}
			stdout, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdout = w
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			r := bufio.NewReader(stdout)
			line, err := r.ReadString('\n')
			pid, perr := strconv.Atoi(strings.TrimSpace(line))
			if err != nil || perr != nil {
				t.Fatalf("daemon said %q (%v)", line, err)
			}
			testsupport.Eventually(t, waitLong, "openvpn to open tap1", func() bool {
				held, _ := procHoldsTap(pid, "tap1")
				return held
			})
			conf := filepath.Join(dir, "tap1.conf")
			rec, err := readPidFile(filepath.Join(dir, "tap1.pid"))
			if err != nil || rec.PID != pid {
				t.Fatalf("pid file %+v %v, want pid %d", rec, err, pid)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if !keep {
				testsupport.Eventually(t, waitLong, "openvpn to die with its daemon", func() bool { return processGone(pid, conf) })
				return
			}
			// The daemon's stdout: nobody else holds it.
			eof := make(chan error, 1)
			go func() { _, err := io.Copy(io.Discard, r); eof <- err }()
			select {
			case <-eof:
			case <-time.After(waitLong):
				t.Fatal("the daemon's stdout is still open after its death: openvpn inherited it")
			}
			time.Sleep(time.Second) // a parent-death signal would have come at once
			if processGone(pid, conf) {
				t.Fatal("openvpn died with its daemon despite Keep")
			}
			ino, err := nsInode(ns.Path())
			if err != nil {
				t.Fatal(err)
			}
			if err := checkProcess(rec, conf, ino); err != nil {
				t.Errorf("the pid file does not vouch for the surviving openvpn: %v", err)
			}
			if sid, err := unix.Getsid(pid); err != nil || sid != pid {
				t.Errorf("openvpn's session %d (%v), want its own (%d)", sid, err, pid)
			}
			logText, err := os.ReadFile(filepath.Join(dir, "tap1.log"))
			if err != nil || !strings.Contains(string(logText), "OpenVPN 2.") {
				t.Errorf("log file %q %v, want openvpn's start lines", logText, err)
			}

			// The next daemon adopts the orphan (not its child: waited on
			// and signalled through a pidfd) and can stop it.
			m := nsManagerWith(t, ns, Options{Dir: dir, Logger: testLogger(t), Keep: true, StopTimeout: 3 * time.Second})
			if err := m.Start(context.Background(), Spec{Tap: "tap1", Role: Server, Port: 1191, KeyFile: key}); err != nil {
				t.Fatal(err)
			}
			if st, _ := m.Status("tap1"); !st.Running || st.PID != pid {
				t.Fatalf("after Start: %+v, want the orphan %d adopted", st, pid)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := m.Stop(ctx, "tap1"); err != nil {
				t.Fatal(err)
			}
			if !processGone(pid, conf) {
				t.Errorf("adopted orphan %d survived Stop", pid)
			}
		})
	}
}
