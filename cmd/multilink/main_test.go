package main

import (
	"bytes"
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
		if code != 0 || out != version+"\n" || errOut != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 0, %q", arg, code, out, errOut, version+"\n")
		}
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
