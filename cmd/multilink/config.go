package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/multilink/multilink/internal/config"
	"github.com/multilink/multilink/internal/gateway"
	"github.com/multilink/multilink/internal/notify"
)

const configUsage = `usage: multilink config check FILE

Checks a --config file by the daemon's own rules (the servers and clients
as the API takes them, the interfaces and ports they make against each
other, the probe, policy and hooks sections; hook programs, token and CA files
must exist on this host) without starting anything. Prints
what the file declares and exits 0, or names the bad setting and exits 1.

flags:
`

func configCommand() command {
	return command{name: "config", summary: "config check FILE: validate a --config file by the daemon's rules", usage: configUsage, setup: configFlags}
}

func configFlags(*flag.FlagSet) action {
	return func(args []string, stdout, _ io.Writer) error {
		if len(args) != 2 || args[0] != "check" {
			return usagef("usage: multilink config check FILE")
		}
		f, err := config.LoadFile(args[1])
		if err != nil {
			return err
		}
		if err := gateway.CheckSettings(f.Probe, f.Policy); err != nil {
			return fmt.Errorf("config %s: %w", args[1], err)
		}
		// The hooks as the daemon builds them: token and CA files read,
		// programs found (on this host).
		if _, err := notify.New(notify.Options{Hooks: f.Hooks}); err != nil {
			return fmt.Errorf("config %s: %w", args[1], err)
		}
		_, err = fmt.Fprintf(stdout, "%s: ok: %d servers, %d clients, probe settings %s, policy %s, %d hooks\n",
			args[1], len(f.Servers), len(f.Clients), given(f.Probe != nil), given(f.Policy != nil), len(f.Hooks))
		return err
	}
}

func given(ok bool) string {
	if ok {
		return "given"
	}
	return "default"
}
