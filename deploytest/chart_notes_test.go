package deploytest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// notesProbe renders NOTES.txt into a ConfigMap, since helm template
// renders NOTES.txt but does not print it.
const notesProbe = `apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  notes: {{ tpl (.Files.Get "notes.txt") . | toJson }}
`

// checkNotes renders the chart's NOTES.txt with the values and checks it
// tells the user the spec's checks: /health, and ping across the tunnel.
func checkNotes(t *testing.T, h helm, chart string, files []string, v values) {
	dir := filepath.Join(t.TempDir(), "chart")
	if err := os.CopyFS(dir, os.DirFS(chart)); err != nil {
		t.Fatal(err)
	}
	notes, err := os.ReadFile(filepath.Join(chart, "templates", "NOTES.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), notes, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "zz-notes.yaml"), []byte(notesProbe), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"template", "notes", dir, "--show-only", "templates/zz-notes.yaml", "--kube-version", kubeVersion}
	for _, f := range files {
		args = append(args, "-f", f)
	}
	out, err := h.run(args...)
	if err != nil {
		t.Fatal(err)
	}
	var cm struct{ Data struct{ Notes string } }
	if err := yaml.Unmarshal([]byte(out), &cm); err != nil {
		t.Fatal(err)
	}
	text := cm.Data.Notes
	want := []string{"/health", "Authorization: Bearer $TOKEN"}
	if v.get("serverConfig") != nil {
		want = append(want, "/v1/server/status", "ping <the client's bond address")
	} else {
		hub := v.str("clientConfig.arp_ip_target")
		if list, ok := v.get("clientConfig.arp_ip_target").([]any); ok && len(list) > 0 {
			hub = list[0].(string)
		}
		bond, _, _ := strings.Cut(v.str("clientConfig.bondIpAddress"), "/")
		want = append(want, "/v1/client/status", "ping "+strings.Split(hub, ",")[0]+"\n", "ping "+bond+"\n")
	}
	if v.get("serviceMonitor.enabled") == true {
		want = append(want, "through ServiceMonitor")
	}
	if v.get("dashboard.enabled") == true {
		want = append(want, dashboardUID, "-dashboard")
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("NOTES.txt lacks %q:\n%s", w, text)
		}
	}
}
