package deploytest

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// checkTLSValues renders both charts with each of the API's TLS values on
// its own and checks what the daemon is given, literally: the probes ask
// HTTPS; --insecure-plain-http is there exactly with
// api.insecurePlainHttp: true; api.tls.existingSecret brings a read-only
// mount of that Secret and --tls-cert/--tls-key into it; the ServiceMonitor
// scrapes https with tlsConfig {insecureSkipVerify: true} by default and
// serviceMonitor.tlsConfig as it is given.
func checkTLSValues(t *testing.T, h helm, flags map[string]daemonFlag) {
	verify := map[string]any{
		"insecureSkipVerify": false,
		"ca":                 map[string]any{"secret": map[string]any{"name": "api-tls", "key": "ca.crt"}},
		"serverName":         "hub1.example",
	}
	for _, ch := range charts {
		t.Run(ch.name, func(t *testing.T) {
			t.Run("defaults", func(t *testing.T) {
				c, pod, _ := renderInline(t, h, ch.name, "")
				given := mustArgs(t, flags, c)
				for _, f := range []string{"insecure-plain-http", "tls-cert", "tls-key"} {
					if _, ok := given[f]; ok {
						t.Errorf("--%s given by default (args %q)", f, c.Args)
					}
				}
				if len(pod.Volumes) != len(c.VolumeMounts) {
					t.Errorf("%d volumes, %d mounts: a volume left over?", len(pod.Volumes), len(c.VolumeMounts))
				}
				for name, p := range map[string]*probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
					if p == nil || p.HTTPGet == nil {
						t.Errorf("%s probe: want httpGet, got none", name)
					} else if p.HTTPGet.Scheme != "HTTPS" {
						t.Errorf("%s probe: scheme %q, want HTTPS", name, p.HTTPGet.Scheme)
					}
				}
			})
			for _, plain := range []bool{true, false} {
				t.Run(fmt.Sprintf("insecurePlainHttp %t", plain), func(t *testing.T) {
					c, _, _ := renderInline(t, h, ch.name, fmt.Sprintf("api: {insecurePlainHttp: %t}", plain))
					mustArgs(t, flags, c) // the daemon knows every flag
					if got := slices.Contains(c.Args, "--insecure-plain-http"); got != plain {
						t.Errorf("--insecure-plain-http in args: %t, want %t (args %q)", got, plain, c.Args)
					}
				})
			}
			t.Run("tls.existingSecret", func(t *testing.T) {
				c, pod, _ := renderInline(t, h, ch.name, "api: {tls: {existingSecret: api-tls}}")
				given := mustArgs(t, flags, c)
				if given["tls-cert"] != tlsMountDir+"/tls.crt" || given["tls-key"] != tlsMountDir+"/tls.key" {
					t.Errorf("args %q: want --tls-cert=%s/tls.crt and --tls-key=%s/tls.key", c.Args, tlsMountDir, tlsMountDir)
				}
				if _, ok := given["insecure-plain-http"]; ok {
					t.Errorf("--insecure-plain-http given with only api.tls.existingSecret set")
				}
				i := slices.IndexFunc(c.VolumeMounts, func(m volumeMount) bool { return m.MountPath == tlsMountDir })
				if i < 0 {
					t.Fatalf("nothing mounted at %s (mounts %+v)", tlsMountDir, c.VolumeMounts)
				}
				if !c.VolumeMounts[i].ReadOnly {
					t.Errorf("mount %s is not read-only", tlsMountDir)
				}
				if vol := mountsByPath(c, pod)[tlsMountDir]; vol.Secret == nil || vol.Secret.SecretName != "api-tls" {
					t.Errorf("%s: want Secret api-tls mounted, got %+v", tlsMountDir, vol)
				}
				checkMountsApart(t, c)
			})
			t.Run("serviceMonitor default tlsConfig", func(t *testing.T) {
				_, _, r := renderInline(t, h, ch.name, "serviceMonitor: {enabled: true}")
				checkEndpointTLS(t, r, map[string]any{"insecureSkipVerify": true})
			})
			t.Run("serviceMonitor tlsConfig verbatim", func(t *testing.T) {
				_, _, r := renderInline(t, h, ch.name, `serviceMonitor: {enabled: true, tlsConfig: {insecureSkipVerify: false, ca: {secret: {name: api-tls, key: ca.crt}}, serverName: hub1.example}}`)
				checkEndpointTLS(t, r, verify)
			})
		})
	}
}

// renderInline renders chart with the YAML values vals (none when "") and
// returns its daemon container, pod and all it rendered.
func renderInline(t *testing.T, h helm, chart, vals string) (container, podSpec, rendered) {
	t.Helper()
	var files []string
	if vals != "" {
		file := filepath.Join(t.TempDir(), "values.yaml")
		if err := os.WriteFile(file, []byte(vals+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
	}
	out, err := h.template(chart, filepath.Join(repoRoot, "charts", chart), files...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseManifests(out)
	if err != nil {
		t.Fatal(err)
	}
	var spec deploymentSpec
	onlySpec(t, r, "Deployment", &spec)
	pod := spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	return pod.Containers[0], pod, r
}

// mustArgs checks the container's args are flags `multilink daemon` takes
// and returns them.
func mustArgs(t *testing.T, flags map[string]daemonFlag, c container) map[string]string {
	t.Helper()
	given, err := checkArgs(flags, c.Args)
	if err != nil {
		t.Fatalf("container args %q: %v", c.Args, err)
	}
	return given
}

// checkEndpointTLS checks the one ServiceMonitor's one endpoint scrapes
// https with tlsConfig want.
func checkEndpointTLS(t *testing.T, r rendered, want map[string]any) {
	t.Helper()
	var spec serviceMonitorSpec
	onlySpec(t, r, "ServiceMonitor", &spec)
	if len(spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor: %d endpoints, want 1", len(spec.Endpoints))
	}
	ep := spec.Endpoints[0]
	if ep.Scheme != "https" {
		t.Errorf("ServiceMonitor scheme %q, want https", ep.Scheme)
	}
	if !reflect.DeepEqual(ep.TLSConfig, want) {
		t.Errorf("ServiceMonitor tlsConfig %v, want %v", ep.TLSConfig, want)
	}
}
