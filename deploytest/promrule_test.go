package deploytest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// The alerting rules are checked with Prometheus's own PromQL parser
// (what a Prometheus does with them), then against what the daemon
// exports: every selector names a family with the labels it matches on,
// and the values it asks of them; every by, on and ignoring label exists
// on the series below it; every $labels.x an annotation shows is a label
// of the expression's result. The dashboards' queries hold Grafana's
// variables ($instance, [$__rate_interval]), which the parser refuses,
// and keep the hand-written reader of promql_test.go.

// ruleLabels are the labels an expression's result can have: the set,
// or any (nil) when it cannot be told.
type ruleLabels map[string]bool

// checkRuleExpr returns what is wrong with a rule's expression, and the
// labels of its result.
func checkRuleExpr(expr string, known map[string]series, values map[string][]string) ([]string, ruleLabels) {
	node, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return []string{fmt.Sprintf("Prometheus's parser refuses it: %v", err)}, nil
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	lookup := func(name string) (series, bool) {
		if s, ok := known[name]; ok {
			return s, true
		}
		s, ok := extraSeries[name]
		return s, ok
	}
	selectors := 0
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		switch x := n.(type) {
		case *parser.VectorSelector:
			selectors++
			if x.Name == "" {
				bad("a selector without a metric name (%s): name the metric, so it can be checked", x)
				return nil
			}
			s, ok := lookup(x.Name)
			if !ok {
				bad("%s: not a metric the daemon exports", x.Name)
				return nil
			}
			for _, m := range x.LabelMatchers {
				if m.Name == labels.MetricName {
					continue
				}
				if !s.labels[m.Name] && !slices.Contains(targetLabels, m.Name) {
					bad("%s has no label %q", x.Name, m.Name)
					continue
				}
				checkMatcherValues(m, x.Name, values, bad)
			}
		case *parser.AggregateExpr:
			for _, l := range x.Grouping {
				for _, name := range selectorNames(x.Expr) {
					if s, ok := lookup(name); ok && !s.labels[l] && !slices.Contains(targetLabels, l) {
						bad("%s (%s): %s has no label %q", map[bool]string{true: "without", false: "by"}[x.Without], strings.Join(x.Grouping, ", "), name, l)
					}
				}
			}
		case *parser.BinaryExpr:
			if x.VectorMatching == nil {
				return nil
			}
			for _, l := range x.VectorMatching.MatchingLabels {
				for _, side := range []parser.Expr{x.LHS, x.RHS} {
					if out := resultLabels(side, lookup); out != nil && !out[l] {
						bad("on/ignoring (%s): the side %s has no label %q", strings.Join(x.VectorMatching.MatchingLabels, ", "), side, l)
					}
				}
			}
		}
		return nil
	})
	if selectors == 0 {
		bad("no metric in %q", expr)
	}
	return problems, resultLabels(node.(parser.Expr), lookup)
}

// checkMatcherValues checks an = or =~ matcher of a label whose values
// the daemon's code lists asks only for those.
func checkMatcherValues(m *labels.Matcher, metric string, values map[string][]string, bad func(string, ...any)) {
	allowed, listed := values[m.Name]
	if !listed {
		return
	}
	var vals []string
	switch m.Type {
	case labels.MatchEqual:
		vals = []string{m.Value}
	case labels.MatchRegexp:
		if !plainAlternatives.MatchString(m.Value) {
			return // a real regular expression: not checked
		}
		vals = strings.Split(m.Value, "|")
	default:
		return
	}
	for _, v := range vals {
		if !slices.Contains(allowed, v) {
			bad("%s{%s}: %q is not a %s the daemon exports (%s)", metric, m, v, m.Name, strings.Join(allowed, ", "))
		}
	}
}

// selectorNames are the metric names selected under e.
func selectorNames(e parser.Node) []string {
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if v, ok := n.(*parser.VectorSelector); ok && v.Name != "" {
			out = append(out, v.Name)
		}
		return nil
	})
	return out
}

// resultLabels are the labels e's result can have, as Prometheus
// evaluates it: a selector's (with the scrape's), an aggregation's by
// labels, a comparison's or set operation's left side; nil when unknown.
func resultLabels(e parser.Expr, lookup func(string) (series, bool)) ruleLabels {
	switch x := e.(type) {
	case *parser.VectorSelector:
		s, ok := lookup(x.Name)
		if !ok {
			return nil
		}
		out := ruleLabels{}
		for l := range s.labels {
			out[l] = true
		}
		for _, l := range targetLabels {
			out[l] = true
		}
		return out
	case *parser.MatrixSelector:
		return resultLabels(x.VectorSelector, lookup)
	case *parser.ParenExpr:
		return resultLabels(x.Expr, lookup)
	case *parser.SubqueryExpr:
		return resultLabels(x.Expr, lookup)
	case *parser.AggregateExpr:
		if x.Without {
			in := resultLabels(x.Expr, lookup)
			if in == nil {
				return nil
			}
			out := ruleLabels{}
			for l := range in {
				if !slices.Contains(x.Grouping, l) {
					out[l] = true
				}
			}
			return out
		}
		out := ruleLabels{}
		for _, l := range x.Grouping {
			out[l] = true
		}
		return out
	case *parser.Call:
		for _, a := range x.Args {
			if a.Type() == parser.ValueTypeVector || a.Type() == parser.ValueTypeMatrix {
				return resultLabels(a, lookup)
			}
		}
		return ruleLabels{} // time(), vector(1): no labels
	case *parser.BinaryExpr:
		l, r := x.LHS.Type() == parser.ValueTypeVector, x.RHS.Type() == parser.ValueTypeVector
		switch {
		case l && !r:
			return resultLabels(x.LHS, lookup)
		case r && !l:
			return resultLabels(x.RHS, lookup)
		case !l && !r:
			return ruleLabels{}
		}
		if x.Op.IsSetOperator() || x.Op.IsComparisonOperator() && !x.ReturnBool {
			return resultLabels(x.LHS, lookup)
		}
		return nil // arithmetic between vectors: not used by the rules
	case *parser.NumberLiteral, *parser.StringLiteral:
		return ruleLabels{}
	}
	return nil
}

// annotationLabel is a label an alert's annotation shows: {{ $labels.x }}.
var annotationLabel = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)

// checkRuleDuration checks a rule's for: is a Prometheus duration, and
// returns it.
func checkRuleDuration(s string) (model.Duration, error) {
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("for %q: %w", s, err)
	}
	return d, nil
}

// TestCheckRuleExpr shows the rule checker catches each kind of mistake,
// with the daemon's real metrics, and takes good expressions.
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
		{`multilink_active_link ==`, "parser refuses", nil},
		{`multilink_active_link{bond="a"`, "parser refuses", nil},
		{`multilink_no_such == 1`, "not a metric the daemon exports", nil},
		{`multilink_link_state{bridge="br0"} == 1`, `has no label "bridge"`, nil},
		{`multilink_link_state{state="sleeping"} == 1`, `"sleeping" is not a state`, nil},
		{`multilink_failovers_total{reason=~"down|lost"} > 0`, `"lost" is not a reason`, nil},
		{`sum by (bridge) (multilink_active_link)`, `has no label "bridge"`, nil},
		{`multilink_active_link and on (bridge) multilink_hub_link_up`, `has no label "bridge"`, nil},
		{`{bond="bond0"}`, "without a metric name", nil},
		{`vector(1)`, "no metric", nil},
	} {
		problems, out := checkRuleExpr(c.expr, known, values)
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
