package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/multilink/multilink/internal/buildinfo"
)

const versionUsage = `usage: multilink version [flags]

The version, the commit it was built from and the Go version (also the
labels of the daemon's multilink_build_info metric).

flags:
`

func versionCommand() command {
	return command{name: "version", summary: "print the version, commit and Go version", usage: versionUsage, setup: versionFlags}
}

func versionFlags(fs *flag.FlagSet) action {
	asJSON := fs.Bool("json", false, "as JSON")
	return func(args []string, stdout, _ io.Writer) error {
		if err := noArgs("version", args); err != nil {
			return err
		}
		b := buildinfo.Read(version, commit)
		if *asJSON {
			return writeJSON(stdout, b)
		}
		_, err := fmt.Fprintf(stdout, "multilink %s (commit %s, %s)\n", b.Version, b.Commit, b.GoVersion)
		return err
	}
}
