package deploytest

import (
	"os"
	"path/filepath"
	"regexp"
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

// fingerprintCmd is a `multilink fingerprint` command line in NOTES.txt.
var fingerprintCmd = regexp.MustCompile(`multilink fingerprint((?: --?[a-z-]+[ =][^\s)]+)*)`)

// checkNotes renders the chart's NOTES.txt with the values and checks it
// tells the user the spec's checks: /health, and ping across the tunnel;
// over https with the pin of the key the daemon (its flags given) serves,
// from `multilink fingerprint` (its flags fpFlags); and a warning with
// api.insecurePlainHttp.
func checkNotes(t *testing.T, h helm, chart string, files []string, v values, given map[string]string, fpFlags map[string]daemonFlag) {
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
	want := []string{"/health", "Authorization: Bearer $TOKEN", `curl -sk --pinnedpubkey "$PIN" https://`}
	if v.get("serverConfig") != nil {
		want = append(want, "/v1/server/status", "ping <the client's bond address",
			"clientConfig.serverApiUrl=https://", "clientConfig.serverApiPin=$PIN")
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
	if v.get("podMonitor.enabled") == true {
		want = append(want, "through PodMonitor")
	}
	if v.get("prometheusRule.enabled") == true {
		want = append(want, "PrometheusRule")
	}
	if v.get("fleetDashboard.enabled") == true {
		want = append(want, fleetDashboardUID, "-fleet-dashboard")
	}
	const warning = "WARNING: api.insecurePlainHttp is true"
	if v.get("api.insecurePlainHttp") == true {
		want = append(want, warning, "cleartext")
	} else if strings.Contains(text, warning) {
		t.Errorf("NOTES.txt warns of api.insecurePlainHttp, which is not set:\n%s", text)
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("NOTES.txt lacks %q:\n%s", w, text)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "curl ") && strings.Contains(line, "http://") {
			t.Errorf("NOTES.txt: %q asks plain http, which the API answers only to loopback", strings.TrimSpace(line))
		}
	}

	// PIN=$(kubectl exec ... -- multilink fingerprint ...): the pin of the
	// key the daemon serves, asked with flags fingerprint takes.
	var pinCmd []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "PIN=$(kubectl") {
			if m := fingerprintCmd.FindStringSubmatch(line); m != nil {
				pinCmd = strings.Fields(m[1])
			}
		}
	}
	if pinCmd == nil {
		t.Fatalf("NOTES.txt: no PIN=$(kubectl ... multilink fingerprint ...):\n%s", text)
	}
	fp, err := checkArgs(fpFlags, pinCmd)
	if err != nil {
		t.Fatalf("NOTES.txt: multilink fingerprint %q: %v", pinCmd, err)
	}
	if cert, ok := given["tls-cert"]; ok {
		if fp["tls-cert"] != cert {
			t.Errorf("NOTES.txt: multilink fingerprint %q, want --tls-cert %s, the daemon's", pinCmd, cert)
		}
	} else if _, ok := fp["tls-cert"]; ok || fp["state-dir"] != given["state-dir"] {
		t.Errorf("NOTES.txt: multilink fingerprint %q, want --state-dir %s, the daemon's", pinCmd, given["state-dir"])
	}
}
