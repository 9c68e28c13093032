package deploytest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// The rendered rules are also evaluated, by promtool (Debian's prometheus
// package; .ci/deps installs it): `promtool check rules` reads them as a
// Prometheus would, annotation templates included, and `promtool test
// rules` runs each alert over synthetic series of the daemon's metrics:
// it must fire for the series that show its trouble, with the labels the
// rule and the values give it, and not for the healthy ones beside them.
// A rule that can never fire fails here.

// fireCase is one alert's synthetic series and the alerts it must raise.
type fireCase struct {
	alert  string
	series map[string]string   // series -> promtool values
	fires  []map[string]string // the alerts' labels, less severity and alertLabels
}

// fireCases are each role's cases; n is the series' length in minutes,
// silentS the hub's peerSilentFor in seconds, switches the flap count.
func fireCases(role string, n int, switches string) []fireCase {
	gw := `instance="gw1:4445", job="gw"`
	hub := `instance="hub1:4444", job="hub"`
	at := func(i string) map[string]string { // a gateway alert's labels
		m := map[string]string{"instance": "gw1:4445", "job": "gw"}
		for _, kv := range strings.Split(i, ",") {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		return m
	}
	ah := func(i string) map[string]string {
		m := at(i)
		m["instance"], m["job"] = "hub1:4444", "hub"
		return m
	}
	const1 := fmt.Sprintf("1x%d", n)
	const0 := fmt.Sprintf("0x%d", n)
	if role == "client" {
		return []fireCase{
			{"MultilinkNoActiveLink", map[string]string{
				`multilink_active_link{` + gw + `, bond="bond0", link="tap1"}`: const0,
				`multilink_active_link{` + gw + `, bond="bond0", link="tap2"}`: const0,
				`multilink_active_link{` + gw + `, bond="bond1", link="tap3"}`: const1,
			}, []map[string]string{at("bond=bond0")}},
			{"MultilinkOnBackupLink", map[string]string{
				`multilink_active_link{` + gw + `, bond="bond0", link="tap1"}`:    const0,
				`multilink_active_link{` + gw + `, bond="bond0", link="tap2"}`:    const1,
				`multilink_link_preferred{` + gw + `, bond="bond0", link="tap1"}`: const1,
				`multilink_link_preferred{` + gw + `, bond="bond0", link="tap2"}`: const0,
				`multilink_active_link{` + gw + `, bond="bond1", link="tap3"}`:    const1,
				`multilink_link_preferred{` + gw + `, bond="bond1", link="tap3"}`: const1,
			}, []map[string]string{at("bond=bond0,link=tap2")}},
			{"MultilinkLinkFlapping", map[string]string{
				// bond0 switches flapSwitches times a minute by itself;
				// bond1 as often, but by hand.
				`multilink_failovers_total{` + gw + `, bond="bond0", reason="down"}`:   fmt.Sprintf("0+%sx%d", switches, n),
				`multilink_failovers_total{` + gw + `, bond="bond1", reason="manual"}`: fmt.Sprintf("0+%sx%d", switches, n),
				`multilink_failovers_total{` + gw + `, bond="bond1", reason="down"}`:   fmt.Sprintf("3x%d", n),
			}, []map[string]string{at("bond=bond0")}},
			{"MultilinkLinkDown", map[string]string{
				`multilink_link_state{` + gw + `, bond="bond0", link="tap1", state="down"}`: const0,
				`multilink_link_state{` + gw + `, bond="bond0", link="tap2", state="down"}`: const1,
				`multilink_link_state{` + gw + `, bond="bond0", link="tap1", state="up"}`:   const1,
			}, []map[string]string{at("bond=bond0,link=tap2,state=down")}},
			{"MultilinkStartPending", map[string]string{
				`multilink_pending_starts{` + gw + `, role="client"}`: const1,
				`multilink_pending_starts{` + gw + `, role="server"}`: const1,
			}, []map[string]string{at("role=client")}},
			hookCase(gw, n, at),
		}
	}
	return []fireCase{
		{"MultilinkHubPeerSilent", map[string]string{
			// tap1 of the held br0 was last heard at 0, tap2 at each
			// sample; br1 is held by nobody.
			`multilink_hub_link_peer_last_seen_timestamp_seconds{` + hub + `, bridge="br0", link="tap1"}`:  const0,
			`multilink_hub_link_peer_last_seen_timestamp_seconds{` + hub + `, bridge="br0", link="tap2"}`:  fmt.Sprintf("0+60x%d", n),
			`multilink_hub_link_peer_last_seen_timestamp_seconds{` + hub + `, bridge="br1", link="tap3"}`:  const0,
			`multilink_hub_bridge_holder_info{` + hub + `, bridge="br0", gateway_id="gw-1", bond="bond0"}`: const1,
		}, []map[string]string{ah("bridge=br0,link=tap1")}},
		{"MultilinkHubTunnelDown", map[string]string{
			`multilink_hub_link_up{` + hub + `, bridge="br0", link="tap1"}`: const0,
			`multilink_hub_link_up{` + hub + `, bridge="br0", link="tap2"}`: const1,
		}, []map[string]string{ah("bridge=br0,link=tap1")}},
		{"MultilinkStartPending", map[string]string{
			`multilink_pending_starts{` + hub + `, role="client"}`: const1,
			`multilink_pending_starts{` + hub + `, role="server"}`: const1,
		}, []map[string]string{ah("role=server")}},
		hookCase(hub, n, ah),
	}
}

// hookCase: hook pager drops events and hook log fails none, in both roles.
func hookCase(target string, n int, labels func(string) map[string]string) fireCase {
	return fireCase{"MultilinkHookFailing", map[string]string{
		`multilink_hook_deliveries_total{` + target + `, hook="pager", result="ok"}`:      fmt.Sprintf("0+1x%d", n),
		`multilink_hook_deliveries_total{` + target + `, hook="pager", result="dropped"}`: fmt.Sprintf("0+2x%d", n),
		`multilink_hook_deliveries_total{` + target + `, hook="log", result="ok"}`:        fmt.Sprintf("0+5x%d", n),
		`multilink_hook_deliveries_total{` + target + `, hook="log", result="failed"}`:    fmt.Sprintf("0x%d", n),
	}, []map[string]string{labels("hook=pager")}}
}

// checkRulesFire runs promtool over the rendered rules.
func checkRulesFire(t *testing.T, spec promRuleSpec, v values, role string) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set, so promtool must be installed (.ci/deps: prometheus): %v", err)
		}
		t.Skipf("skipped: no promtool (Debian: apt-get install prometheus): %v", err)
	}
	dir := t.TempDir()
	write := func(name string, v any) string {
		data, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	run := func(args ...string) {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("check", "rules", write("rules.yaml", spec))

	// The test copy without annotations: promtool compares them whole,
	// and the checks above read them.
	var bare promRuleSpec
	raw, _ := json.Marshal(spec)
	_ = json.Unmarshal(raw, &bare)
	longest := time.Duration(0)
	severity := map[string]string{}
	for gi, g := range bare.Groups {
		for ri, r := range g.Rules {
			bare.Groups[gi].Rules[ri].Annotations = nil
			severity[r.Alert] = r.Labels["severity"]
			if d, err := checkRuleDuration(r.For); err == nil && time.Duration(d) > longest {
				longest = time.Duration(d)
			}
		}
	}
	for _, k := range []string{"peerSilentFor", "flapWindow"} {
		if d, err := time.ParseDuration(v.str("prometheusRule." + k)); err == nil && d > longest {
			longest = d
		}
	}
	evalAt := longest*2 + 10*time.Minute
	n := int(evalAt/time.Minute) + 5
	switches := v.str("prometheusRule.flapSwitches")
	extra, _ := v.get("prometheusRule.alertLabels").(map[string]any)

	var tests []map[string]any
	for _, c := range fireCases(role, n, switches) {
		var input []map[string]string
		for s, vals := range c.series {
			input = append(input, map[string]string{"series": s, "values": vals})
		}
		var exp []map[string]any
		for _, labels := range c.fires {
			l := map[string]string{"severity": severity[c.alert]}
			for k, v := range labels {
				l[k] = v
			}
			for k, v := range extra {
				l[k] = fmt.Sprint(v)
			}
			exp = append(exp, map[string]any{"exp_labels": l})
		}
		tests = append(tests, map[string]any{
			"name": c.alert, "interval": "1m", "input_series": input,
			"alert_rule_test": []map[string]any{{"eval_time": evalAt.String(), "alertname": c.alert, "exp_alerts": exp}},
		})
	}
	write("bare.yaml", bare)
	run("test", "rules", write("test.yaml", map[string]any{"rule_files": []string{"bare.yaml"}, "evaluation_interval": "1m", "tests": tests}))
}
