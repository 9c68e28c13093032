package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-v"} {
		code, out, errOut := runCLI(arg)
		if code != 0 || !strings.HasPrefix(out, "multilink "+version+" (commit ") || !strings.Contains(out, runtime.Version()) || errOut != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 0, the version, commit and Go version", arg, code, out, errOut)
		}
	}
	code, out, _ := runCLI("version", "--json")
	var b struct{ Version, Commit, GoVersion string }
	if code != 0 || json.Unmarshal([]byte(out), &b) != nil || b.Version != version || b.Commit == "" {
		t.Errorf("version --json: exit %d, %q", code, out)
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		code, out, _ := runCLI(arg)
		if code != 0 || !strings.Contains(out, "usage: multilink <command>") {
			t.Errorf("%s: exit %d, stdout %q", arg, code, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string // in stderr
	}{
		{nil, []string{"usage: multilink <command>"}},
		{[]string{"frobnicate"}, []string{"usage: multilink <command>", `unknown command "frobnicate"`}},
		{[]string{"daemon", "--bogus"}, []string{"flag provided but not defined: -bogus", "usage: multilink daemon"}},
		{[]string{"daemon", "extra"}, []string{"daemon takes no arguments"}},
		{[]string{"daemon", "--log-format", "xml"}, []string{"--log-format \"xml\""}},
		{[]string{"daemon", "--log-level", "loud"}, []string{"--log-level \"loud\""}},
	} {
		code, out, errOut := runCLI(c.args...)
		if code != 2 || out != "" {
			t.Errorf("%q: exit %d, stdout %q; want 2 and nothing on stdout", c.args, code, out)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%q: stderr %q does not say %q", c.args, errOut, w)
			}
		}
	}
}

// TestDaemonHelp: help asked for is no error: exit 0, the usage with every
// flag on stdout, and no daemon started.
func TestDaemonHelp(t *testing.T) {
	for _, args := range [][]string{{"daemon", "--help"}, {"daemon", "-h"}, {"daemon", "--listen", "127.0.0.1:0", "-help"}} {
		code, out, errOut := runCLI(args...)
		if code != 0 || errOut != "" {
			t.Errorf("%q: exit %d, stderr %q; want 0 and nothing on stderr", args, code, errOut)
		}
		for _, w := range []string{"usage: multilink daemon", "-listen", "-state-dir", "-token-file", "-insecure-no-auth", "-config"} {
			if !strings.Contains(out, w) {
				t.Errorf("%q: usage does not show %q:\n%s", args, w, out)
			}
		}
	}
}

// TestEveryCommandHelp: every command answers -h and --help the same way:
// its usage on stdout, nothing on stderr, exit 0; help <command> too.
func TestEveryCommandHelp(t *testing.T) {
	for _, c := range commands() {
		for _, args := range [][]string{{c.name, "-h"}, {c.name, "--help"}, {"help", c.name}} {
			code, out, errOut := runCLI(args...)
			if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: multilink "+c.name) {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", args, code, out, errOut)
			}
		}
		if !strings.Contains(topUsage(), c.name) {
			t.Errorf("help does not list %s", c.name)
		}
	}
}

// TestExitStatus: 1 for a command that ran and failed, 2 for one called
// wrong; the message on stderr, nothing on stdout.
func TestExitStatus(t *testing.T) {
	empty := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"status", "--state-dir", empty}, 1, "no multilink daemon runs with this state dir"},
		{[]string{"events", "--state-dir", empty}, 1, "no multilink daemon"},
		{[]string{"config", "check", filepath.Join(empty, "none.yaml")}, 1, "read config"},
		{[]string{"status", "extra"}, 2, "status takes no arguments"},
		{[]string{"status", "--url", "ftp://x"}, 2, "want http(s)://host:port"},
		{[]string{"status", "--pin", "sha256//x"}, 2, "--pin needs --url"},
		{[]string{"events", "--limit", "0"}, 2, "--limit 0"},
		{[]string{"events", "--bond", "a b"}, 2, "--bond"},
		{[]string{"watch", "--every", "1ms"}, 2, "--every 1ms"},
		{[]string{"config"}, 2, "multilink config check FILE"},
		{[]string{"completion", "tcsh"}, 2, "want bash, zsh or fish"},
		{[]string{"daemon", "--tunnel-nice", "40"}, 2, "--tunnel-nice 40"},
		{[]string{"daemon", "--tunnel-keepalive", "500ms"}, 2, "--tunnel-keepalive 500ms"},
		{[]string{"daemon", "--tunnel-keepalive", "10m"}, 2, "--tunnel-keepalive 10m0s"},
		{[]string{"daemon", "--tunnel-keepalive", "1500ms"}, 2, "--tunnel-keepalive 1.5s"},
		{[]string{"daemon", "--memory-limit-mib", "4"}, 2, "--memory-limit-mib 4: want 0 (no limit) or at least 8"},
		{[]string{"daemon", "--memory-limit-mib", "-1"}, 2, "--memory-limit-mib -1"},
	} {
		code, out, errOut := runCLI(c.args...)
		if code != c.code || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d and %q", c.args, code, out, errOut, c.code, c.want)
		}
	}
}

// TestConfigCheck: a good file is described, a bad one names the setting
// (the servers' and clients' rules, and the probe, policy and hooks
// sections the daemon applies).
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.yaml", `server:
  bridge_interface: br0
  bridge_ip: 10.8.0.254/24
  links: 2
probe: {interval_ms: 20}
policy: {hold_down_ms: 2000}
hooks: [{exec: [/bin/sh, -c, "cat >/dev/null"]}]
`)
	code, out, errOut := runCLI("config", "check", good)
	if code != 0 || !strings.Contains(out, "ok: 1 servers, 0 clients, probe settings given, policy given, 1 hooks") {
		t.Errorf("good file: exit %d, %q %q", code, out, errOut)
	}
	for name, c := range map[string]struct{ body, want string }{
		"policy":  {"policy: {hold_down_ms: -5}\n", "hold_down_ms"},
		"probe":   {"probe: {interval_ms: 0.001}\n", "interval"},
		"attach":  {"probe: {attach: magic}\n", "attach"},
		"unknown": {"probe: {intervall_ms: 20}\n", "intervall_ms"},
		"server":  {"server: {bridge_interface: br0, bridge_ip: nonsense, links: 2}\n", "bridge_ip"},
		"hook":    {"hooks: [{webhook: {url: \"ftp://x\"}}]\n", "hooks[0].webhook.url"},
		"program": {"hooks: [{exec: [/nonexistent/on-event]}]\n", "hooks[0].exec[0]"},
		"token":   {"hooks: [{webhook: {url: \"https://x\", bearer_token_file: /nonexistent}}]\n", "hooks[0].webhook.bearer_token_file"},
	} {
		code, out, errOut := runCLI("config", "check", write(name+".yaml", c.body))
		if code != 1 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1 naming %q", name, code, out, errOut, c.want)
		}
	}
}
