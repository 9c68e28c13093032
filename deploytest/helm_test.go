package deploytest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Helm as the charts' tests use it: built from the Go module proxy.
const (
	HelmModule  = "helm.sh/helm/v3/cmd/helm"
	HelmVersion = "v3.22.0"
	// kubeVersion is the Kubernetes version lint and template assume
	// (capabilities and deprecation checks).
	kubeVersion = "1.35.0"
	// releaseNamespace is the namespace template renders into.
	releaseNamespace = "ml"
)

// helm runs a Helm binary.
type helm struct{ bin string }

// buildHelm builds Helm into a temporary directory. It skips the test when
// that is impossible (no module proxy), except under CI, which promises
// the proxy: there it fails.
func buildHelm(t *testing.T) helm {
	t.Helper()
	dir := t.TempDir()
	ldflags := "-s -w -X helm.sh/helm/v3/internal/version.version=" + HelmVersion +
		" -X helm.sh/helm/v3/internal/version.metadata="
	cmd := exec.Command("go", "install", "-ldflags", ldflags, HelmModule+"@"+HelmVersion)
	cmd.Dir = dir // outside this module: go install pkg@version ignores go.mod anyway
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := fmt.Sprintf("build helm %s@%s from the Go module proxy: %v\n%s", HelmModule, HelmVersion, err, out)
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set, so the module proxy must work: %s", msg)
		}
		t.Skipf("skipped: %s", msg)
	}
	h := helm{bin: filepath.Join(dir, "helm")}
	out, err := h.run("version", "--short")
	if err != nil || !strings.HasPrefix(out, HelmVersion) {
		t.Fatalf("helm version: %q, %v", out, err)
	}
	t.Logf("helm %s", strings.TrimSpace(out))
	return h
}

// run runs helm with args and returns its standard output; on failure the
// error carries standard error.
func (h helm) run(args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(h.bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// No cluster, no user config: Helm's own dirs in a scratch place.
	scratch, err := os.MkdirTemp("", "helm-home-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(scratch)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+scratch, "HELM_CONFIG_HOME="+scratch, "HELM_DATA_HOME="+scratch,
		"KUBECONFIG="+filepath.Join(scratch, "none"))
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}

// lint runs helm lint --strict on chart with the values files.
func (h helm) lint(chart string, valueFiles ...string) error {
	args := []string{"lint", "--strict", "--kube-version", kubeVersion, chart}
	for _, f := range valueFiles {
		args = append(args, "-f", f)
	}
	_, err := h.run(args...)
	return err
}

// template renders chart as release name in releaseNamespace.
func (h helm) template(name, chart string, valueFiles ...string) (string, error) {
	args := []string{"template", name, chart, "--namespace", releaseNamespace, "--kube-version", kubeVersion}
	for _, f := range valueFiles {
		args = append(args, "-f", f)
	}
	return h.run(args...)
}
