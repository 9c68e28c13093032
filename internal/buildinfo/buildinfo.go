// Package buildinfo says which build of multilink runs: its version, the
// commit it was built from and the Go version, for `multilink version`
// and the labels of the multilink_build_info metric.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Info is one build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"` // "unknown" when the build did not record it
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
}

// Read is this binary's Info: version and commit as the build set them
// (-X main.version, -X main.commit), else the commit Go recorded from the
// checkout (vcs.revision).
func Read(version, commit string) Info {
	i := Info{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if i.Commit == "" {
					i.Commit = s.Value
				}
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	if len(i.Commit) > 12 {
		i.Commit = i.Commit[:12]
	}
	if i.Commit == "" {
		i.Commit = "unknown"
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	return i
}
