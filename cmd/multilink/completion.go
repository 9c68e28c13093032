package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

const completionUsage = `usage: multilink completion bash|zsh|fish

Prints the shell's completion script for multilink: commands, and each
command's flags. Load it for the session or install it:

  source <(multilink completion bash)     # ~/.bashrc, or save it to
                                          # /etc/bash_completion.d/multilink
  source <(multilink completion zsh)      # ~/.zshrc
  multilink completion fish > ~/.config/fish/completions/multilink.fish

The scripts ask multilink itself what fits (multilink __complete), so they
follow the binary's own commands and flags.

flags:
`

func completionCommand() command {
	return command{name: "completion", summary: "print the shell completion script (bash, zsh, fish)", usage: completionUsage, setup: completionFlags}
}

// completeCommand is the scripts' hidden helper: the words typed so far
// (the last one being completed) in, the candidates out, one a line.
const completeCommand = "__complete"

const bashScript = `# multilink completion for bash (multilink completion bash)
_multilink() {
  local IFS=$'\n'
  COMPREPLY=($(multilink __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
  if [ ${#COMPREPLY[@]} -eq 0 ]; then
    COMPREPLY=($(compgen -f -- "${COMP_WORDS[COMP_CWORD]}"))
  fi
}
complete -F _multilink multilink
`

const fishScript = `# multilink completion for fish (multilink completion fish)
complete -c multilink -f -a '(multilink __complete (commandline -opc)[2..-1] (commandline -ct | string collect --allow-empty) 2>/dev/null)'
`

func completionFlags(*flag.FlagSet) action {
	return func(args []string, stdout, _ io.Writer) error {
		if len(args) != 1 {
			return usagef("usage: multilink completion bash|zsh|fish")
		}
		var script string
		switch args[0] {
		case "bash":
			script = bashScript
		case "zsh":
			script = "# multilink completion for zsh (multilink completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n" + bashScript
		case "fish":
			script = fishScript
		default:
			return usagef("completion %q: want bash, zsh or fish", args[0])
		}
		_, err := io.WriteString(stdout, script)
		return err
	}
}

// complete prints the candidates for the last of words (what is typed
// after "multilink", the word being completed last).
func complete(words []string, stdout io.Writer) error {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	var out []string
	if len(words) == 1 {
		for _, c := range commands() {
			out = append(out, c.name)
		}
		out = append(out, "help")
	} else {
		out = completeArgs(words[0], words[1:len(words)-1], cur)
	}
	for _, c := range out {
		if strings.HasPrefix(c, cur) {
			if _, err := fmt.Fprintln(stdout, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// completeArgs are the candidates for cur after "multilink name before...".
func completeArgs(name string, before []string, cur string) []string {
	var cmd *command
	for _, c := range commands() {
		if c.name == name {
			cmd = &c
		}
	}
	switch {
	case name == "help" && len(before) == 0:
		var out []string
		for _, c := range commands() {
			out = append(out, c.name)
		}
		return out
	case cmd == nil:
		return nil
	case name == "completion" && len(before) == 0:
		return []string{"bash", "zsh", "fish"}
	case name == "config" && len(before) == 0:
		return []string{"check"}
	}
	fs := newFlagSet(cmd.name, "")
	cmd.setup(fs)
	if n := len(before); n > 0 && takesValue(fs, before[n-1]) {
		return nil // the flag's value: the shell's own (files)
	}
	if !strings.HasPrefix(cur, "-") {
		return nil
	}
	var out []string
	fs.VisitAll(func(f *flag.Flag) {
		if len(f.Name) == 1 {
			out = append(out, "-"+f.Name) // -f, -v: as their help shows them
		} else {
			out = append(out, "--"+f.Name)
		}
	})
	sort.Strings(out)
	return out
}

// takesValue reports whether arg is a flag of fs that takes a value in
// the next word (not a boolean, not --flag=value).
func takesValue(fs *flag.FlagSet, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if name == arg || strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}
