// Command multilink keeps a gateway connected over several wireless links.
//
//	multilink daemon [flags]          run the daemon (REST API, tunnels, bridge/bond)
//	multilink status [--json]         one screen: bonds, links, bridges
//	multilink watch                   the same, live
//	multilink events [-f] [--json]    switches and state changes
//	multilink demo [--json]           the whole system on this host
//	multilink config check FILE       validate a --config file
//	multilink fingerprint             the pin of the API's TLS key
//	multilink completion bash|zsh|fish
//	multilink version [--json]
//
// Exit status: 0 success (help asked for included), 1 a runtime error,
// 2 a usage error.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// version and commit are set at build time (-ldflags "-X main.version=...
// -X main.commit=..."); without commit, the one Go recorded is used.
var (
	version = "dev"
	commit  = ""
)

func main() { os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // it was called wrong
)

// usageError is an error in how a command was called: exit status 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// usagef is a usageError.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// cli runs the command line and returns the exit status.
func cli(args []string, stdout, stderr io.Writer) int {
	err := run(args, stdout, stderr)
	var usage usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp): // the usage and the error are printed already
		return exitUsage
	case errors.As(err, &usage):
		fmt.Fprintln(stderr, "multilink:", err)
		return exitUsage
	}
	fmt.Fprintln(stderr, "multilink:", err)
	return exitFailure
}

// command is one subcommand. setup declares its flags on fs and returns
// what it does with the arguments left: the same setup serves a run, its
// help and the shell completion.
type command struct {
	name    string
	summary string
	usage   string // its help's first lines; the flags follow
	setup   func(fs *flag.FlagSet) action
}

// action runs a parsed command.
type action func(args []string, stdout, stderr io.Writer) error

// commands are multilink's subcommands, in the order help lists them.
func commands() []command {
	return []command{
		daemonCommand(),
		purgeCommand(),
		statusCommand(),
		watchCommand(),
		eventsCommand(),
		demoCommand(),
		configCommand(),
		fingerprintCommand(),
		completionCommand(),
		versionCommand(),
	}
}

// topUsage is multilink's help.
func topUsage() string {
	var b strings.Builder
	b.WriteString("usage: multilink <command> [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-12s %s\n", c.name, c.summary)
	}
	b.WriteString("\nEvery command answers -h. Exit status: 0 ok, 1 error, 2 usage.\n")
	return b.String()
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage())
		return flag.ErrHelp
	}
	switch args[0] {
	case "--version", "-v":
		args = append([]string{"version"}, args[1:]...)
	case completeCommand:
		return complete(args[1:], stdout)
	case "help", "-h", "--help":
		if len(args) > 1 { // help <command>: its -h
			args = []string{args[1], "-h"}
			break
		}
		fmt.Fprint(stdout, topUsage())
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprint(stderr, topUsage())
	return usagef("unknown command %q", args[0])
}

// run parses args with the command's flags and runs it.
func (c command) run(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(c.name, c.usage)
	act := c.setup(fs)
	if help, err := parse(fs, args, stdout, stderr); help || err != nil {
		return err
	}
	return act(fs.Args(), stdout, stderr)
}

// noArgs is the error of a command that takes no arguments and got some.
func noArgs(name string, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", name, args)
	}
	return nil
}

// newFlagSet is a subcommand's flag set whose usage starts with usage.
func newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args with fs. Asked for help (-h, --help), it prints the
// usage to stdout and reports help: that is no error. On a bad flag it
// prints the error and the usage to stderr and returns flag.ErrHelp (the
// usage is printed: exit 2 without more).
func parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (help bool, err error) {
	var out bytes.Buffer
	fs.SetOutput(&out)
	defer fs.SetOutput(stderr)
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		_, err = io.Copy(stdout, &out)
		return true, err
	case err != nil:
		_, _ = io.Copy(stderr, &out)
		return false, flag.ErrHelp
	}
	return false, nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", format)
}
