package deploytest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

type promRuleSpec struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Record      string            `json:"record"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

// roleAlerts are each role's alerts, with the value that sets their for:
// ("": a fixed one).
var roleAlerts = map[string]map[string]string{
	"client": {
		"MultilinkNoActiveLink": "noActiveLinkFor",
		"MultilinkOnBackupLink": "backupFor",
		"MultilinkLinkFlapping": "",
		"MultilinkLinkDown":     "linkDownFor",
		"MultilinkStartPending": "pendingFor",
		"MultilinkHookFailing":  "",
	},
	"server": {
		"MultilinkHubPeerSilent": "",
		"MultilinkHubTunnelDown": "tunnelDownFor",
		"MultilinkStartPending":  "pendingFor",
		"MultilinkHookFailing":   "",
	},
}

// severities are the severity labels the rules may carry.
var severities = []string{"critical", "warning", "info"}

// checkPrometheusRule checks the PrometheusRule one chart rendered with
// values v: there exactly when enabled, with the values' namespace and
// labels; the role's alerts, each with a for: (the values' where they set
// it), a severity, the values' alertLabels, a summary and a description
// showing only labels its result has; and every expression read by
// Prometheus's parser and naming only what the daemon exports.
func checkPrometheusRule(t *testing.T, r rendered, v values, role string) {
	if v.get("prometheusRule.enabled") != true {
		if len(r["PrometheusRule"]) > 0 {
			t.Error("PrometheusRule rendered with prometheusRule.enabled false")
		}
		return
	}
	pr, err := r.only("PrometheusRule")
	if err != nil {
		t.Fatal(err)
	}
	checkMeta(t, "PrometheusRule", pr, v, "prometheusRule", false)
	var spec promRuleSpec
	if err := json.Unmarshal(pr.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	known := seriesNames(daemonMetrics(t))
	vals := labelValues()
	extra := map[string]string{}
	if m, ok := v.get("prometheusRule.alertLabels").(map[string]any); ok {
		for k, x := range m {
			extra[k] = fmt.Sprint(x)
		}
	}
	var got []string
	for _, g := range spec.Groups {
		for _, rule := range g.Rules {
			where := g.Name + "/" + rule.Alert
			if rule.Alert == "" {
				t.Errorf("%s: a rule that is not an alert (record %q)", g.Name, rule.Record)
				continue
			}
			got = append(got, rule.Alert)
			problems, out := checkExpr(rule.Expr, known, vals)
			for _, p := range problems {
				t.Errorf("%s: %s\n\t%s", where, p, rule.Expr)
			}
			d, err := checkRuleDuration(rule.For)
			if err != nil || d <= 0 {
				t.Errorf("%s: for %q: want a duration above 0 (%v)", where, rule.For, err)
			}
			if key := roleAlerts[role][rule.Alert]; key != "" && rule.For != v.str("prometheusRule."+key) {
				t.Errorf("%s: for %q, want prometheusRule.%s %q", where, rule.For, key, v.str("prometheusRule."+key))
			}
			if !slices.Contains(severities, rule.Labels["severity"]) {
				t.Errorf("%s: severity %q, want one of %v", where, rule.Labels["severity"], severities)
			}
			for k, x := range extra {
				if rule.Labels[k] != x {
					t.Errorf("%s: label %s=%q, want prometheusRule.alertLabels' %q", where, k, rule.Labels[k], x)
				}
			}
			for _, a := range []string{"summary", "description"} {
				text := rule.Annotations[a]
				if strings.TrimSpace(text) == "" {
					t.Errorf("%s: no %s annotation", where, a)
				}
				for _, m := range annotationLabel.FindAllStringSubmatch(text, -1) {
					if out != nil && !out[m[1]] {
						t.Errorf("%s: %s shows $labels.%s, which the expression's result lacks (it has %v)", where, a, m[1], sortedKeys(out))
					}
				}
			}
		}
	}
	var want []string
	for a := range roleAlerts[role] {
		want = append(want, a)
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("alerts %v, want the %s role's %v", got, role, want)
	}
	checkRuleKnobs(t, spec, v, role)
	t.Run("rules fire", func(t *testing.T) { checkRulesFire(t, spec, v, role) })
}

// checkRuleKnobs checks the values that go into expressions, not for:.
func checkRuleKnobs(t *testing.T, spec promRuleSpec, v values, role string) {
	exprOf := func(alert string) string {
		for _, g := range spec.Groups {
			for _, r := range g.Rules {
				if r.Alert == alert {
					return r.Expr
				}
			}
		}
		return ""
	}
	switch role {
	case "client":
		e := exprOf("MultilinkLinkFlapping")
		window, switches := v.str("prometheusRule.flapWindow"), v.str("prometheusRule.flapSwitches")
		if !strings.Contains(e, "["+window+"]") || !strings.HasSuffix(strings.TrimSpace(e), ">= "+switches) {
			t.Errorf("MultilinkLinkFlapping: %q does not count over [%s] against %s", e, window, switches)
		}
	case "server":
		silent, err := time.ParseDuration(v.str("prometheusRule.peerSilentFor"))
		if err != nil {
			t.Fatalf("prometheusRule.peerSilentFor: %v", err)
		}
		e := exprOf("MultilinkHubPeerSilent")
		if want := fmt.Sprintf("> %d\n", int(silent.Seconds())); !strings.Contains(e, want) {
			t.Errorf("MultilinkHubPeerSilent: %q does not compare the silence with peerSilentFor in seconds (%q)", e, want)
		}
	}
}

type podMonitorSpec struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	NamespaceSelector struct {
		MatchNames []string `json:"matchNames"`
	} `json:"namespaceSelector"`
	Endpoints []scrapeEndpoint `json:"podMetricsEndpoints"`
}

// checkPodMonitor checks the PodMonitor: there exactly when enabled, it
// selects the Deployment's pods in the release's namespace and scrapes
// the container's api port over https at /metrics with the values'
// interval and tlsConfig.
func checkPodMonitor(t *testing.T, r rendered, v values) {
	if v.get("podMonitor.enabled") != true {
		if len(r["PodMonitor"]) > 0 {
			t.Error("PodMonitor rendered with podMonitor.enabled false")
		}
		return
	}
	pm, err := r.only("PodMonitor")
	if err != nil {
		t.Fatal(err)
	}
	checkMeta(t, "PodMonitor", pm, v, "podMonitor", false)
	dep, err := r.only("Deployment")
	if err != nil {
		t.Fatal(err)
	}
	var pod struct {
		Template struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec podSpec `json:"spec"`
		} `json:"template"`
	}
	if err := json.Unmarshal(dep.Spec, &pod); err != nil {
		t.Fatal(err)
	}
	var spec podMonitorSpec
	if err := json.Unmarshal(pm.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	if len(spec.Selector.MatchLabels) == 0 {
		t.Error("PodMonitor: empty selector (it would pick every pod)")
	}
	for k, val := range spec.Selector.MatchLabels {
		if pod.Template.Metadata.Labels[k] != val {
			t.Errorf("PodMonitor selects %s=%s, which the pods lack (labels %v)", k, val, pod.Template.Metadata.Labels)
		}
	}
	if !slices.Equal(spec.NamespaceSelector.MatchNames, []string{releaseNamespace}) {
		t.Errorf("PodMonitor namespaceSelector %v, want the release's namespace %s", spec.NamespaceSelector.MatchNames, releaseNamespace)
	}
	var ports []string
	for _, c := range pod.Template.Spec.Containers {
		for _, p := range c.Ports {
			ports = append(ports, p.Name)
		}
	}
	checkEndpoint(t, "PodMonitor", spec.Endpoints, ports, v, "podMonitor")
}
