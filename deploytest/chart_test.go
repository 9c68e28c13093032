package deploytest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// charts are the charts in charts/, with the key of their spec values.
var charts = []struct {
	name    string
	portKey string // the spec's api.envVars key of the API port
}{
	{"multilink-server", "apiMultilinkServerPort"},
	{"multilink-client", "apiMultilinkClientPort"},
}

// sharedTemplates are the same file in both charts; each chart's role
// lives in _role.tpl, config.yaml and NOTES.txt.
var sharedTemplates = []string{
	"_common.tpl", "deployment.yaml", "service.yaml", "secret.yaml", "servicemonitor.yaml", "podmonitor.yaml",
	"dashboard.yaml", "fleet-dashboard.yaml", "purge-job.yaml",
}

// TestCharts lints and renders each chart with its default values and each
// ci/*.yaml, checks what comes out, and checks that bad values are refused.
func TestCharts(t *testing.T) {
	t.Run("shared templates identical", func(t *testing.T) {
		for _, f := range sharedTemplates {
			a, errA := os.ReadFile(filepath.Join(repoRoot, "charts", charts[0].name, "templates", f))
			b, errB := os.ReadFile(filepath.Join(repoRoot, "charts", charts[1].name, "templates", f))
			if errA != nil || errB != nil {
				t.Errorf("%s: %v %v", f, errA, errB)
			} else if !bytes.Equal(a, b) {
				t.Errorf("templates/%s differs between %s and %s; keep one copy's changes in both", f, charts[0].name, charts[1].name)
			}
		}
	})

	h := buildHelm(t)
	bin := buildDaemon(t)
	flags := daemonFlags(t, bin)
	fingerprintFlags := commandFlags(t, bin, "fingerprint")
	for _, c := range charts {
		dir := filepath.Join(repoRoot, "charts", c.name)
		ci, err := filepath.Glob(filepath.Join(dir, "ci", "*.yaml"))
		if err != nil || len(ci) == 0 {
			t.Fatalf("%s: no ci/*.yaml values (the spec's example values belong there): %v", c.name, err)
		}
		for _, file := range append([]string{""}, ci...) {
			name := c.name + "/default"
			var files []string
			if file != "" {
				name, files = c.name+"/"+filepath.Base(file), []string{file}
			}
			t.Run(name, func(t *testing.T) {
				if err := h.lint(dir, files...); err != nil {
					t.Fatal(err)
				}
				out, err := h.template(c.name, dir, files...)
				if err != nil {
					t.Fatal(err)
				}
				r, err := parseManifests(out)
				if err != nil {
					t.Fatal(err)
				}
				v := loadValues(t, dir, files...)
				given := checkRendered(t, r, v, flags, c.portKey)
				checkMonitoring(t, r, v, dir, strings.TrimPrefix(c.name, "multilink-"))
				checkNotes(t, h, dir, files, v, given, fingerprintFlags)
			})
		}
	}
	t.Run("API TLS values", func(t *testing.T) { checkTLSValues(t, h, flags) })
	t.Run("bad values refused", func(t *testing.T) { checkRefused(t, h) })
}
