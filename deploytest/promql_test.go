package deploytest

import (
	"slices"
	"strings"
	"testing"
)

// TestCheckPromQL shows the dashboard checker catches each kind of
// mistake, with the daemon's real metrics, and takes good queries.
func TestCheckPromQL(t *testing.T) {
	known := seriesNames(daemonMetrics(t))
	values := labelValues()
	L := `instance=~"$instance", bond=~"$bond", link=~"$link"`
	for _, c := range []struct {
		expr, legend, want string // want: "" for no problem, else part of one
	}{
		{`multilink_link_loss_ratio{` + L + `}`, "{{bond}}/{{link}}", ""},
		{`sum by (bond, link) (rate(multilink_link_probes_sent_total{` + L + `}[$__rate_interval]))`, "{{bond}}/{{link}} sent", ""},
		{`increase(multilink_failovers_total{instance=~"$instance"}[${__range}])`, "{{reason}}", ""},
		{`histogram_quantile(0.99, sum by (bond, link, le) (rate(multilink_link_rtt_seconds_bucket{` + L + `}[5m])))`, "{{link}}", ""},
		{`sum(rate(multilink_link_rtt_seconds_bucket[1m])) by (le)`, "{{le}}", ""},
		{`max by (bond, link) ((multilink_link_state{state="up"} * 1) or (multilink_link_state{state=~"degraded|down"} * 2))`, "", ""},
		{`process_resident_memory_bytes{instance=~"$instance"} and on (instance, job) multilink_build_info`, "{{instance}}", ""},
		{`label_values(multilink_link_probe_interval_seconds{instance=~"$instance"}, bond)`, "", ""},
		{`rate(multilink_link_rtt_seconds_sum[5m] offset 1h) / rate(multilink_link_rtt_seconds_count[5m] offset 1h)`, "{{link}}", ""},
		{`multilink_link_loss_ratio / on (bond) group_left (driver) multilink_bond_info`, "{{link}} {{driver}}", ""},
		{`up{job="multilink"} == 0`, "", ""},
		{`multilink_link_los_ratio{` + L + `}`, "", "multilink_link_los_ratio: not a metric"},
		{`rate(multilink_link_rtt_second_bucket[5m])`, "", "not a metric"},
		{`multilink_link_rtt_seconds`, "", "not a metric"}, // a histogram's bare name
		{`multilink_link_loss_ratio_bucket`, "", "not a metric"},
		{`multilink_failovers_total{link="tap1"}`, "", `no label "link"`},
		{`sum by (reason) (multilink_link_loss_ratio)`, "", `has no label "reason"`},
		{`sum(multilink_link_loss_ratio) without (state)`, "", `has no label "state"`},
		{`multilink_link_state{state="Up"}`, "", `"Up" is not a state`},
		{`multilink_link_state{state=~"up|gone"}`, "", `"gone" is not a state`},
		{`multilink_failovers_total{reason="timeout"}`, "", `"timeout" is not a reason`},
		{`histogram_quantile(0.9, sum by (link) (rate(multilink_link_rtt_seconds_bucket[5m])))`, "", "must keep le"},
		{`histogram_quantile(0.9, sum without (le) (rate(multilink_link_rtt_seconds_bucket[5m])))`, "", "must keep le"},
		{`histogram_quantile(0.9, rate(multilink_link_rtt_seconds_sum[5m]))`, "", "not a histogram's _bucket"},
		{`{__name__="multilink_link_loss_ratio"}`, "", "without a metric name"},
		{`multilink_link_loss_ratio{__name__=~"x"}`, "", "metric name must not be set twice"},
		{`{__name__=~"multilink_link_.*"}`, "", "without a metric name"},
		{`multilink_active_link and on (reason) multilink_bond_info`, "", `no label "reason"`},
		{`multilink_link_loss_ratio / on (bond) group_left (reason) multilink_bond_info`, "", `no label "reason"`},
		{`label_values(multilink_bond_info, link)`, "", `no label "link"`},
		{`sum by (bond) (multilink_link_loss_ratio)`, "{{link}}", `{{link}} is not a label of the result`},
		{`multilink_failovers_total`, "{{link}}", `{{link}} is not a label of the result`},
		{`multilink_link_loss_ratio / on (bond, link) multilink_link_jitter_seconds`, "{{instance}}", `{{instance}} is not a label of the result`},
		{`go_goroutine`, "", "not a metric"},
		{`label_names()`, "", "not checked"},
		{`sum by bond (multilink_link_loss_ratio)`, "", "parser refuses"},
		{`sum without (link) (multilink_link_loss_ratio)`, "{{bond}}", ""},
		{`sum by (link) multilink_link_loss_ratio`, "", "parser refuses"},
		{`multilink_link_loss_ratio{bond=~"$bond"`, "", "parser refuses"},
		{`rate(multilink_link_loss_ratio[$bond])`, "", "parser refuses"},
		{`rate([[x]])`, "", "old [[variable]]"},
		{`vector(1)`, "", "no metric"},
	} {
		problems := checkPromQL(c.expr, c.legend, known, values)
		switch {
		case c.want == "" && len(problems) > 0:
			t.Errorf("%s: unexpected problems: %q", c.expr, problems)
		case c.want != "" && !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }):
			t.Errorf("%s: want a problem with %q, got %q", c.expr, c.want, problems)
		}
	}
}

// TestCheckRuleExpr: the labels of a rule's result, which its
// annotations may show, and the checker over rules' shapes.
func TestCheckRuleExpr(t *testing.T) {
	known := seriesNames(daemonMetrics(t))
	values := labelValues()
	for _, c := range []struct {
		expr string
		want string // "": no problem
		out  []string
	}{
		{`max by (instance, job, bond) (multilink_active_link) < 1`, "", []string{"bond", "instance", "job"}},
		{`multilink_active_link == 1 unless on (instance, job, bond, link) multilink_link_preferred == 1`, "", []string{"bond", "instance", "job", "link"}},
		{`(time() - multilink_hub_link_peer_last_seen_timestamp_seconds) > 600 and on (instance, job, bridge) multilink_hub_bridge_holder_info == 1`, "",
			[]string{"bridge", "instance", "job", "link"}},
		{`sum by (instance, job, bond) (increase(multilink_failovers_total{reason=~"down|kernel"}[15m])) >= 4`, "", []string{"bond", "instance", "job"}},
		{`multilink_active_link ==`, "parser refuses", nil},
		{`multilink_no_such == 1`, "not a metric the daemon exports", nil},
		{`multilink_link_state{bridge="br0"} == 1`, `has no label "bridge"`, nil},
		{`multilink_link_state{state="sleeping"} == 1`, `"sleeping" is not a state`, nil},
		{`multilink_failovers_total{reason=~"down|lost"} > 0`, `"lost" is not a reason`, nil},
		{`multilink_pending_starts{role="gateway"} > 0`, `"gateway" is not a role`, nil},
		{`multilink_hub_bridge_info{tunnel_mode="psk"}`, `"psk" is not a tunnel_mode`, nil},
		{`sum by (bridge) (multilink_active_link)`, `has no label "bridge"`, nil},
		{`multilink_active_link and on (bridge) multilink_hub_link_up`, `has no label "bridge"`, nil},
	} {
		problems, out := checkExpr(c.expr, known, values)
		joined := strings.Join(problems, "; ")
		switch {
		case c.want == "" && len(problems) > 0:
			t.Errorf("%s: %s", c.expr, joined)
		case c.want != "" && !strings.Contains(joined, c.want):
			t.Errorf("%s: problems %q, want one with %q", c.expr, joined, c.want)
		}
		if c.out != nil && !slices.Equal(sortedKeys(out), c.out) {
			t.Errorf("%s: result labels %v, want %v", c.expr, sortedKeys(out), c.out)
		}
	}
}
