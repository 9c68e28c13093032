package deploytest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoRoot is the module root, seen from this package's directory.
const repoRoot = ".."

// daemonFlag is one flag of `multilink daemon` (or another subcommand), as
// its --help lists it.
type daemonFlag struct {
	value bool   // takes a value (not a bool flag)
	def   string // default, unquoted; "" when none is printed
}

// buildDaemon builds ./cmd/multilink as `make build` does (static, no cgo)
// into a temporary directory and returns the binary's path.
func buildDaemon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "multilink")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/multilink")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/multilink: %v\n%s", err, out)
	}
	return bin
}

var (
	flagLine    = regexp.MustCompile(`^\s+-([a-z0-9-]+)(?:\s+(\S+))?$`)
	defaultText = regexp.MustCompile(`\(default "?([^")]*)"?\)`)
)

// daemonFlags runs `bin daemon --help` and returns the flags it lists.
func daemonFlags(t *testing.T, bin string) map[string]daemonFlag {
	t.Helper()
	flags := commandFlags(t, bin, "daemon")
	if flags["listen"].def == "" {
		t.Fatal("no --listen default in `multilink daemon --help`")
	}
	return flags
}

// commandFlags runs `bin sub --help` and returns the flags it lists.
func commandFlags(t *testing.T, bin, sub string) map[string]daemonFlag {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, sub, "--help")
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // the flag package exits 2 after printing help
	flags := map[string]daemonFlag{}
	last := ""
	for _, line := range strings.Split(out.String(), "\n") {
		if m := flagLine.FindStringSubmatch(line); m != nil {
			last = m[1]
			flags[last] = daemonFlag{value: m[2] != ""}
			continue
		}
		if m := defaultText.FindStringSubmatch(line); m != nil && last != "" {
			f := flags[last]
			f.def = m[1]
			flags[last] = f
		}
	}
	if len(flags) == 0 {
		t.Fatalf("no flags in `multilink %s --help`:\n%s", sub, out.String())
	}
	return flags
}

// checkArgs checks args as `multilink daemon` would parse them: every
// --flag (or -flag, or --flag=value) is one it knows, a flag that takes a
// value has one, and nothing else is there (the daemon takes no arguments).
// It returns the flags given, with their values.
func checkArgs(flags map[string]daemonFlag, args []string) (map[string]string, error) {
	given := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("argument %q is not a flag (the daemon takes none)", a)
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f, ok := flags[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("flag %q is not one `multilink daemon --help` lists", a)
		case f.value && !hasVal:
			if i+1 == len(args) {
				return nil, fmt.Errorf("flag %q has no value", a)
			}
			i++
			val = args[i]
		case !f.value && !hasVal:
			val = "true"
		}
		given[name] = val
	}
	return given, nil
}

// listenPort returns the port of the --listen value given, else of its default.
func listenPort(flags map[string]daemonFlag, given map[string]string) string {
	addr, ok := given["listen"]
	if !ok {
		addr = flags["listen"].def
	}
	return addr[strings.LastIndex(addr, ":")+1:]
}

func TestCheckArgs(t *testing.T) {
	flags := map[string]daemonFlag{
		"listen":           {value: true, def: "0.0.0.0:3333"},
		"insecure-no-auth": {},
	}
	given, err := checkArgs(flags, []string{"--listen", "0.0.0.0:4444", "-insecure-no-auth"})
	if err != nil || given["listen"] != "0.0.0.0:4444" || given["insecure-no-auth"] != "true" {
		t.Errorf("good args: %v %v", given, err)
	}
	if p := listenPort(flags, given); p != "4444" {
		t.Errorf("listenPort = %q, want 4444", p)
	}
	if p := listenPort(flags, nil); p != "3333" {
		t.Errorf("default listenPort = %q, want 3333", p)
	}
	for _, bad := range [][]string{
		{"--lisen", "x"},
		{"--listen"},
		{"extra"},
		{"--listen=1", "stray"},
	} {
		if _, err := checkArgs(flags, bad); err == nil {
			t.Errorf("checkArgs(%q) accepted", bad)
		}
	}
}
