package deploytest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// requireTools skips the test when a command it needs is missing or it
// does not run as root, except under CI (the environment variable), where
// .ci/deps installs them and the job runs as root: there it fails.
func requireTools(t *testing.T, root bool, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	why := ""
	switch {
	case len(missing) > 0:
		why = "missing commands " + strings.Join(missing, ", ") + " (make deps installs them)"
	case root && os.Geteuid() != 0:
		why = "needs root"
	default:
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set, so this must run: %s", why)
	}
	t.Skipf("skipped: %s", why)
}
