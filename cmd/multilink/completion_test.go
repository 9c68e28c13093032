package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// asMultilinkEnv makes this test binary act as multilink (for the shell
// scripts' calls back into it).
const asMultilinkEnv = "MULTILINK_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(asMultilinkEnv) == "1" {
		os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestComplete(t *testing.T) {
	for _, c := range []struct {
		words []string
		want  string // the candidates, space-separated
	}{
		{[]string{"sta"}, "status"},
		{[]string{"e"}, "events"},
		{[]string{"status", "--st"}, "--state-dir"},
		{[]string{"events", "-"}, "--bond --json --limit --pin --state-dir --token-file --url -f"},
		{[]string{"status", "--url", ""}, ""},          // a flag's value: the shell's
		{[]string{"status", "--json", "--u"}, "--url"}, // a boolean takes none
		{[]string{"completion", ""}, "bash zsh fish"},
		{[]string{"config", "c"}, "check"},
		{[]string{"help", "wa"}, "watch"},
		{[]string{"nosuch", "-"}, ""},
	} {
		code, out, _ := runCLI(append([]string{completeCommand}, c.words...)...)
		if got := strings.Join(strings.Fields(out), " "); code != 0 || got != c.want {
			t.Errorf("%q: exit %d, %q; want %q", c.words, code, got, c.want)
		}
	}
}

// TestCompletionInBash: the bash script, loaded in a real bash, completes
// a command and a flag by asking the binary.
func TestCompletionInBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.Symlink(self, filepath.Join(bin, "multilink")); err != nil {
		t.Fatal(err)
	}
	code, script, _ := runCLI("completion", "bash")
	if code != 0 {
		t.Fatal("completion bash failed")
	}
	for line, want := range map[string]string{
		"COMP_WORDS=(multilink wat); COMP_CWORD=1":           "watch",
		"COMP_WORDS=(multilink events --fo); COMP_CWORD=2":   "",
		"COMP_WORDS=(multilink events --lim); COMP_CWORD=2":  "--limit",
		"COMP_WORDS=(multilink completion fi); COMP_CWORD=2": "fish",
	} {
		cmd := exec.Command(bash, "--norc", "-c", script+line+`; _multilink; echo "${COMPREPLY[*]}"`)
		cmd.Env = append(os.Environ(), asMultilinkEnv+"=1", "PATH="+bin+":"+os.Getenv("PATH"))
		cmd.Dir = t.TempDir() // an empty dir: no file names for the fallback
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("%s: completed %q, want %q", line, got, want)
		}
	}
}
