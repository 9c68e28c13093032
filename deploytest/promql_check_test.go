package deploytest

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Every PromQL expression the charts ship (the dashboards' queries, the
// alerting rules) is read by Prometheus's own parser and checked against
// what the daemon exports: every selector names a family, with labels it
// has and label values it takes; every by, without, on and ignoring label
// exists on the series below it; histogram_quantile reads a histogram's
// buckets and keeps le; every label a legend ({{x}}) or an annotation
// ($labels.x) shows is one the result has. It evaluates nothing (promtool
// runs the rules: chart_rules_fire_test.go).

// extraSeries are series every scrape makes, usable too.
var extraSeries = map[string]series{"up": {family: "up", labels: map[string]bool{}}}

var (
	// plainAlternatives is a regular expression that only lists values: a|b.
	plainAlternatives = regexp.MustCompile(`^[a-z0-9_|]+$`)
	// legendLabel is a label in a Grafana legend: {{label}}.
	legendLabel = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
	// annotationLabel is a label an alert's annotation shows: {{ $labels.x }}.
	annotationLabel = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)
	// grafanaRange is one of Grafana's range variables, in a [range].
	grafanaRange = regexp.MustCompile(`\$\{?__(rate_interval|interval|range)\}?`)
	// labelValuesQuery is a Grafana variable query: label_values(selector, label).
	labelValuesQuery = regexp.MustCompile(`^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)
	// uncheckedQuery are Grafana variable queries that name no metric.
	uncheckedQuery = regexp.MustCompile(`^\s*(label_names|metrics|query_result)\(`)
)

// fromGrafana makes a dashboard query PromQL: Grafana's range variables
// become a duration, and a variable query label_values(s, l) the query
// whose result has l: group by (l) (s). Variables in label values stay
// ($instance in "..." is text to the parser).
func fromGrafana(expr string) (string, error) {
	if strings.Contains(expr, "[[") {
		return "", fmt.Errorf("Grafana's old [[variable]] syntax: use $variable")
	}
	if uncheckedQuery.MatchString(expr) {
		return "", fmt.Errorf("a variable query this check does not read (label_names, metrics, query_result): not checked; use label_values(metric, label)")
	}
	if m := labelValuesQuery.FindStringSubmatch(expr); m != nil {
		expr = "group by (" + m[2] + ") (" + m[1] + ")"
	}
	return grafanaRange.ReplaceAllString(expr, "5m"), nil
}

// checkPromQL returns what is wrong with a dashboard query and the legend
// it is drawn with.
func checkPromQL(expr, legend string, known map[string]series, values map[string][]string) []string {
	promql, err := fromGrafana(expr)
	if err != nil {
		return []string{err.Error()}
	}
	problems, out := checkExpr(promql, known, values)
	for _, m := range legendLabel.FindAllStringSubmatch(legend, -1) {
		if out != nil && !out[m[1]] {
			problems = append(problems, fmt.Sprintf("legend %q: {{%s}} is not a label of the result (%s)", legend, m[1], strings.Join(sortedKeys(out), ", ")))
		}
	}
	return problems
}

// ruleLabels are the labels an expression's result can have: the set,
// or any (nil) when it cannot be told.
type ruleLabels map[string]bool

// checkExpr returns what is wrong with a PromQL expression, and the labels
// of its result.
func checkExpr(expr string, known map[string]series, values map[string][]string) ([]string, ruleLabels) {
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
	has := func(name, label string) bool {
		s, ok := lookup(name)
		return !ok || s.labels[label] || slices.Contains(targetLabels, label) // unknown metrics are reported once
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
			if _, ok := lookup(x.Name); !ok {
				bad("%s: not a metric the daemon exports", x.Name)
				return nil
			}
			for _, m := range x.LabelMatchers {
				switch {
				case m.Name == labels.MetricName: // the name itself (the parser refuses a second one)
				case !has(x.Name, m.Name):
					bad("%s has no label %q", x.Name, m.Name)
				default:
					checkMatcherValues(m, x.Name, values, bad)
				}
			}
		case *parser.AggregateExpr:
			kw := map[bool]string{true: "without", false: "by"}[x.Without]
			for _, l := range x.Grouping {
				for _, name := range selectorNames(x.Expr) {
					if !has(name, l) {
						bad("%s (%s): %s has no label %q", kw, strings.Join(x.Grouping, ", "), name, l)
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
			one := x.RHS // group_left: the right side is the one whose labels are included
			if x.VectorMatching.Card == parser.CardOneToMany {
				one = x.LHS
			}
			for _, l := range x.VectorMatching.Include {
				if out := resultLabels(one, lookup); out != nil && !out[l] {
					bad("group_left/group_right (%s): %s has no label %q", strings.Join(x.VectorMatching.Include, ", "), one, l)
				}
			}
		case *parser.Call:
			if x.Func.Name == "histogram_quantile" && len(x.Args) == 2 {
				checkQuantile(x.Args[1], lookup, bad)
			}
		}
		return nil
	})
	if selectors == 0 {
		bad("no metric in %q", expr)
	}
	return problems, resultLabels(node, lookup)
}

// checkQuantile checks histogram_quantile's argument: a histogram's
// _bucket series, aggregated keeping le.
func checkQuantile(arg parser.Expr, lookup func(string) (series, bool), bad func(string, ...any)) {
	for _, name := range selectorNames(arg) {
		if s, ok := lookup(name); ok && (!strings.HasSuffix(name, "_bucket") || !s.labels["le"]) {
			bad("histogram_quantile over %s, which is not a histogram's _bucket series", name)
		}
	}
	parser.Inspect(arg, func(n parser.Node, _ []parser.Node) error {
		if a, ok := n.(*parser.AggregateExpr); ok && a.Without == slices.Contains(a.Grouping, "le") {
			kw := map[bool]string{true: "without", false: "by"}[a.Without]
			bad("histogram_quantile: %s (%s) must keep le", kw, strings.Join(a.Grouping, ", "))
		}
		return nil
	})
}

// checkMatcherValues checks an = or =~ matcher of a label whose values
// the daemon's code lists asks only for those. A value holding a Grafana
// variable is not checked.
func checkMatcherValues(m *labels.Matcher, metric string, values map[string][]string, bad func(string, ...any)) {
	allowed, listed := values[m.Name]
	if !listed || strings.Contains(m.Value, "$") {
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
func resultLabels(e parser.Node, lookup func(string) (series, bool)) ruleLabels {
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
	case *parser.StepInvariantExpr:
		return resultLabels(x.Expr, lookup)
	case *parser.UnaryExpr:
		return resultLabels(x.Expr, lookup)
	case *parser.AggregateExpr:
		if !x.Without {
			out := ruleLabels{}
			for _, l := range x.Grouping {
				out[l] = true
			}
			return out
		}
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
	case *parser.Call:
		if strings.HasPrefix(x.Func.Name, "label_") {
			return nil // label_replace, label_join add labels
		}
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
		if x.Op.IsSetOperator() && x.Op != parser.LOR || x.Op.IsComparisonOperator() && !x.ReturnBool {
			return resultLabels(x.LHS, lookup)
		}
		if x.Op == parser.LOR {
			a, b := resultLabels(x.LHS, lookup), resultLabels(x.RHS, lookup)
			if a == nil || b == nil {
				return nil
			}
			for k := range b {
				a[k] = true
			}
			return a
		}
		// Arithmetic (or a bool comparison) between vectors: the "many"
		// side's labels, as the matching leaves them.
		m := x.VectorMatching
		side := resultLabels(x.LHS, lookup)
		if m != nil && m.Card == parser.CardOneToMany {
			side = resultLabels(x.RHS, lookup)
		}
		if side == nil || m == nil {
			return side
		}
		out := ruleLabels{}
		for k := range side {
			if m.Card != parser.CardOneToOne || m.On == slices.Contains(m.MatchingLabels, k) {
				out[k] = true
			}
		}
		for _, k := range m.Include {
			out[k] = true
		}
		return out
	case *parser.NumberLiteral, *parser.StringLiteral:
		return ruleLabels{}
	}
	return nil
}

// checkRuleDuration checks a rule's for: is a Prometheus duration, and
// returns it.
func checkRuleDuration(s string) (model.Duration, error) {
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("for %q: %w", s, err)
	}
	return d, nil
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
