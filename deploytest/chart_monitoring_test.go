package deploytest

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

type serviceMonitorSpec struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	NamespaceSelector struct {
		Any        bool     `json:"any"`
		MatchNames []string `json:"matchNames"`
	} `json:"namespaceSelector"`
	Endpoints []scrapeEndpoint `json:"endpoints"`
}

// scrapeEndpoint is a ServiceMonitor's or PodMonitor's endpoint.
type scrapeEndpoint struct {
	Port          string         `json:"port"`
	Path          string         `json:"path"`
	Scheme        string         `json:"scheme"`
	Interval      string         `json:"interval"`
	ScrapeTimeout string         `json:"scrapeTimeout"`
	TLSConfig     map[string]any `json:"tlsConfig"`
}

// checkEndpoint checks a monitor's only endpoint: the port named api among
// ports (the Service's or the container's), https at /metrics, and the
// values' tlsConfig, interval and scrapeTimeout under key (serviceMonitor,
// podMonitor).
func checkEndpoint(t *testing.T, kind string, eps []scrapeEndpoint, ports []string, v values, key string) {
	t.Helper()
	if len(eps) != 1 {
		t.Fatalf("%s: %d endpoints, want 1", kind, len(eps))
	}
	ep := eps[0]
	if !slices.Contains(ports, ep.Port) || ep.Port != "api" {
		t.Errorf("%s endpoint port %q: want the api port of %v", kind, ep.Port, ports)
	}
	if ep.Path != "/metrics" || ep.Scheme != "https" {
		t.Errorf("%s endpoint %s://…%s: want https and /metrics (the API answers plain HTTP only to loopback)", kind, ep.Scheme, ep.Path)
	}
	want, _ := v.get(key + ".tlsConfig").(map[string]any)
	if len(want) == 0 {
		want = nil
	}
	if !reflect.DeepEqual(ep.TLSConfig, want) {
		t.Errorf("%s endpoint tlsConfig %v, want %s.tlsConfig verbatim: %v", kind, ep.TLSConfig, key, want)
	}
	if ep.Interval != v.str(key+".interval") || ep.ScrapeTimeout != v.str(key+".scrapeTimeout") {
		t.Errorf("%s interval %q, scrapeTimeout %q: want the values' %q and %q",
			kind, ep.Interval, ep.ScrapeTimeout, v.str(key+".interval"), v.str(key+".scrapeTimeout"))
	}
}

// standardLabel reports whether a label is one the chart puts on every
// object (not one of the values' own).
func standardLabel(k string) bool {
	return strings.HasPrefix(k, "app.kubernetes.io/") || k == "helm.sh/chart"
}

// checkMonitoring checks the ServiceMonitor, PodMonitor, PrometheusRule and
// dashboard ConfigMaps one chart rendered with values v: there exactly
// when enabled, with the values' namespace, labels and annotations; the
// ServiceMonitor on the Service's api port and /metrics; the ConfigMaps
// holding the chart's dashboards unchanged.
func checkMonitoring(t *testing.T, r rendered, v values, chart, role string) {
	dep, err := r.only("Deployment")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := r.only("Service")
	if err != nil {
		t.Fatal(err)
	}

	if v.get("serviceMonitor.enabled") == true {
		sm, err := r.only("ServiceMonitor")
		if err != nil {
			t.Fatal(err)
		}
		checkMeta(t, "ServiceMonitor", sm, v, "serviceMonitor", false)
		var spec serviceMonitorSpec
		if err := json.Unmarshal(sm.Spec, &spec); err != nil {
			t.Fatal(err)
		}
		sel := spec.Selector.MatchLabels
		if len(sel) == 0 {
			t.Error("ServiceMonitor: empty selector (it would pick every Service)")
		}
		for k, val := range sel {
			if svc.Metadata.Labels[k] != val {
				t.Errorf("ServiceMonitor selects %s=%s, which Service %s lacks (labels %v)", k, val, svc.Metadata.Name, svc.Metadata.Labels)
			}
		}
		if spec.NamespaceSelector.Any || !slices.Equal(spec.NamespaceSelector.MatchNames, []string{releaseNamespace}) {
			t.Errorf("ServiceMonitor namespaceSelector %+v, want the release's namespace %s, where the Service is", spec.NamespaceSelector, releaseNamespace)
		}
		var svcSpec serviceSpec
		if err := json.Unmarshal(svc.Spec, &svcSpec); err != nil {
			t.Fatal(err)
		}
		var ports []string
		for _, p := range svcSpec.Ports {
			ports = append(ports, p.Name)
		}
		checkEndpoint(t, "ServiceMonitor", spec.Endpoints, ports, v, "serviceMonitor")
	} else if len(r["ServiceMonitor"]) > 0 {
		t.Error("ServiceMonitor rendered with serviceMonitor.enabled false")
	}

	checkPodMonitor(t, r, v)
	checkPrometheusRule(t, r, v, role)
	checkDashboardConfigMap(t, r, v, chart, dep.Metadata.Name+"-dashboard", "dashboard", dashboardFile, "multilink-"+role+".json")
	checkDashboardConfigMap(t, r, v, chart, dep.Metadata.Name+"-fleet-dashboard", "fleetDashboard", fleetDashboardFile, "multilink-fleet.json")
}

// checkDashboardConfigMap checks a dashboard's ConfigMap: there exactly
// when the values under prefix enable it, with their namespace, labels
// and annotations, holding the chart's file unchanged under key.
func checkDashboardConfigMap(t *testing.T, r rendered, v values, chart, name, prefix, dashboardFile, key string) {
	cm, ok := r["ConfigMap"][name]
	if v.get(prefix+".enabled") != true {
		if ok {
			t.Errorf("ConfigMap %s rendered with %s.enabled false", name, prefix)
		}
		return
	}
	if !ok {
		t.Fatalf("%s.enabled, but no ConfigMap %s", prefix, name)
	}
	checkMeta(t, prefix+" ConfigMap", cm, v, prefix, true)
	if len(cm.Data) != 1 || cm.Data[key] == "" {
		t.Fatalf("dashboard ConfigMap: data keys %v, want only %s", slices.Collect(maps.Keys(cm.Data)), key)
	}
	if n := len(cm.Data[key]); n > 900<<10 {
		t.Errorf("dashboard: %d bytes, near a ConfigMap's 1 MiB limit", n)
	}
	file, err := os.ReadFile(filepath.Join(chart, dashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(file, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(cm.Data[key]), &got); err != nil {
		t.Fatalf("dashboard ConfigMap: %s is not JSON: %v", key, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dashboard ConfigMap: %s is not the chart's %s", key, dashboardFile)
	}
}

// checkMeta checks an object's namespace, labels (and annotations) are
// the values' under prefix: the chart's standard labels and exactly the
// values' own.
func checkMeta(t *testing.T, what string, o object, v values, prefix string, annotations bool) {
	if ns := v.str(prefix + ".namespace"); o.Metadata.Namespace != ns {
		t.Errorf("%s: namespace %q, want %s.namespace %q", what, o.Metadata.Namespace, prefix, ns)
	}
	want := map[string]string{}
	if m, ok := v.get(prefix + ".labels").(map[string]any); ok {
		for k, val := range m {
			want[k] = val.(string)
		}
	}
	got := map[string]string{}
	for k, val := range o.Metadata.Labels {
		if !standardLabel(k) {
			got[k] = val
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("%s: labels %v, want %s.labels %v", what, got, prefix, want)
	}
	if o.Metadata.Labels["app.kubernetes.io/name"] == "" {
		t.Errorf("%s: without the chart's labels", what)
	}
	if !annotations {
		return
	}
	wantAnn := map[string]string{}
	if m, ok := v.get(prefix + ".annotations").(map[string]any); ok {
		for k, val := range m {
			wantAnn[k] = val.(string)
		}
	}
	if len(wantAnn) == 0 {
		wantAnn = nil
	}
	if !maps.Equal(o.Metadata.Annotations, wantAnn) {
		t.Errorf("%s: annotations %v, want %s.annotations %v", what, o.Metadata.Annotations, prefix, wantAnn)
	}
}

// TestMetricsEndpoint checks the API serves /metrics, the path the
// ServiceMonitor scrapes, without the token.
func TestMetricsEndpoint(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, "internal", "restapi", "router.go"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(string(src), "\n") {
		if strings.Contains(line, `GET("/metrics"`) {
			found = true
			if strings.Contains(line, "auth") {
				t.Errorf("internal/restapi/router.go: /metrics takes the token (%s); the ServiceMonitor scrapes without one", strings.TrimSpace(line))
			}
		}
	}
	if !found {
		t.Error(`internal/restapi/router.go: no GET("/metrics" route; the charts' ServiceMonitor scrapes /metrics`)
	}
}
