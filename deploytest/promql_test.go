package deploytest

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// A small reader of the PromQL a Grafana dashboard holds, enough to find
// every metric, label matcher and grouping label in it and check them
// against what the daemon exports. It does not evaluate anything: it
// tokenizes, pairs the brackets and looks at each token's neighbours.
// Grafana's variables ($name, ${name}) may stand in strings and ranges.

type tokKind int

const (
	tIdent tokKind = iota
	tString
	tNumber
	tPunct
	tVar
)

type tok struct {
	kind tokKind
	text string // strings: unquoted
}

var punct2 = []string{"==", "!=", "<=", ">=", "=~", "!~"}

// lexPromQL splits expr into tokens.
func lexPromQL(expr string) ([]tok, error) {
	var out []tok
	isIdent := func(c byte, first bool) bool {
		return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			var b strings.Builder
			for ; j < len(expr) && expr[j] != c; j++ {
				if expr[j] == '\\' && c != '`' && j+1 < len(expr) {
					j++
				}
				b.WriteByte(expr[j])
			}
			if j >= len(expr) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			out = append(out, tok{tString, b.String()})
			i = j + 1
		case c == '$':
			j := i + 1
			if j < len(expr) && expr[j] == '{' {
				k := strings.IndexByte(expr[j:], '}')
				if k < 0 {
					return nil, fmt.Errorf("unterminated ${ at %d", i)
				}
				j += k + 1
			} else {
				for j < len(expr) && isIdent(expr[j], false) && expr[j] != ':' {
					j++
				}
			}
			out = append(out, tok{tVar, expr[i:j]})
			i = j
		case c == '[' && strings.HasPrefix(expr[i:], "[["):
			return nil, fmt.Errorf("Grafana's old [[variable]] syntax at %d: use $variable", i)
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(expr) && expr[i+1] >= '0' && expr[i+1] <= '9':
			// Numbers and durations (5m, 1h30m, 1e-9, 0x1f).
			j := i
			for j < len(expr) && (isIdent(expr[j], false) && expr[j] != ':' || expr[j] == '.' ||
				(expr[j] == '-' || expr[j] == '+') && (expr[j-1] == 'e' || expr[j-1] == 'E') && !strings.ContainsAny(expr[i:j], "xX")) {
				j++
			}
			out = append(out, tok{tNumber, expr[i:j]})
			i = j
		case isIdent(c, true):
			j := i
			for j < len(expr) && isIdent(expr[j], false) {
				j++
			}
			out = append(out, tok{tIdent, expr[i:j]})
			i = j
		default:
			p := string(c)
			for _, p2 := range punct2 {
				if strings.HasPrefix(expr[i:], p2) {
					p = p2
				}
			}
			if !strings.Contains("(){}[],=<>+-*/%^@:!", p[:1]) || p == "!" {
				return nil, fmt.Errorf("unexpected %q at %d", p, i)
			}
			out = append(out, tok{tPunct, p})
			i += len(p)
		}
	}
	return out, nil
}

// promRef is one vector selector: metric{matchers}.
type promRef struct {
	at       int // token index
	metric   string
	matchers []promMatcher
}

type promMatcher struct{ label, op, value string }

// promGroup is a label list: by, without, on, ignoring, group_left,
// group_right, or label_values' label; scope is the token range it is
// about (the aggregated expression; for the others the enclosing one).
type promGroup struct {
	kw     string
	labels []string
	scope  [2]int
}

// promQuery is what analyzePromQL finds in one expression.
type promQuery struct {
	refs      []promRef
	groups    []promGroup
	quantiles [][2]int // the argument ranges of histogram_quantile
}

var (
	groupingKW = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
	// Keywords and operators that are not metric names (case-insensitive).
	promKW = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true, "inf": true, "nan": true}
	// Grafana variable functions this reader does not take apart.
	unsupportedFuncs = map[string]bool{"label_names": true, "metrics": true, "query_result": true}
)

// analyzePromQL finds the selectors and label lists in expr.
func analyzePromQL(expr string) (*promQuery, error) {
	toks, err := lexPromQL(expr)
	if err != nil {
		return nil, err
	}
	match := map[int]int{}
	var stack []int
	enclosing := make([][2]int, len(toks)) // innermost ( ) around each token
	pairs := map[string]string{"(": ")", "{": "}", "[": "]"}
	for i, t := range toks {
		if len(stack) > 0 {
			enclosing[i] = [2]int{stack[len(stack)-1], -1}
		} else {
			enclosing[i] = [2]int{-1, len(toks)}
		}
		if t.kind != tPunct {
			continue
		}
		if _, open := pairs[t.text]; open {
			stack = append(stack, i)
		} else if strings.Contains(")}]", t.text) {
			if len(stack) == 0 || pairs[toks[stack[len(stack)-1]].text] != t.text {
				return nil, fmt.Errorf("unbalanced %q", t.text)
			}
			match[stack[len(stack)-1]], match[i] = i, stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("unclosed %q", toks[stack[0]].text)
	}
	for i := range enclosing {
		if enclosing[i][1] == -1 {
			enclosing[i][1] = match[enclosing[i][0]]
		}
	}
	is := func(i int, kind tokKind, text string) bool {
		return i >= 0 && i < len(toks) && toks[i].kind == kind && toks[i].text == text
	}
	labelList := func(open int) ([]string, error) {
		var out []string
		for j := open + 1; j < match[open]; j++ {
			switch {
			case toks[j].kind == tIdent:
				out = append(out, toks[j].text)
			case !is(j, tPunct, ","):
				return nil, fmt.Errorf("%q in a label list", toks[j].text)
			}
		}
		return out, nil
	}
	matchers := func(open int) ([]promMatcher, error) {
		var out []promMatcher
		for j := open + 1; j < match[open]; {
			if j+2 >= match[open] || toks[j].kind != tIdent || toks[j+1].kind != tPunct || toks[j+2].kind != tString ||
				!slices.Contains([]string{"=", "!=", "=~", "!~"}, toks[j+1].text) {
				return nil, fmt.Errorf("label matcher at %q: want label op \"value\"", toks[j].text)
			}
			out = append(out, promMatcher{toks[j].text, toks[j+1].text, toks[j+2].text})
			j += 3
			if is(j, tPunct, ",") {
				j++
			}
		}
		return out, nil
	}

	q := &promQuery{}
	skip := map[int]bool{}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if skip[i] {
			continue
		}
		switch {
		case is(i, tPunct, "["):
			i = match[i] // a range or subquery: durations and variables
		case is(i, tPunct, "{"):
			m, err := matchers(i)
			if err != nil {
				return nil, err
			}
			q.refs = append(q.refs, promRef{at: i, matchers: m})
			i = match[i]
		case t.kind != tIdent:
		case groupingKW[strings.ToLower(t.text)]:
			kw := strings.ToLower(t.text)
			if !is(i+1, tPunct, "(") {
				if kw == "group_left" || kw == "group_right" {
					continue
				}
				return nil, fmt.Errorf("%s without a label list", kw)
			}
			labels, err := labelList(i + 1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", kw, err)
			}
			g := promGroup{kw: kw, labels: labels, scope: enclosing[i]}
			if kw == "by" || kw == "without" {
				after := match[i+1] + 1
				switch {
				case is(after, tPunct, "(") && i > 0 && toks[i-1].kind == tIdent: // sum by (l) (expr)
					g.scope = [2]int{after, match[after]}
				case is(i-1, tPunct, ")"): // sum (expr) by (l)
					g.scope = [2]int{match[i-1], i - 1}
				default:
					return nil, fmt.Errorf("cannot tell what %s (%s) groups", kw, strings.Join(labels, ", "))
				}
			}
			q.groups = append(q.groups, g)
			i = match[i+1]
		case promKW[strings.ToLower(t.text)]:
		case i+1 < len(toks) && toks[i+1].kind == tIdent && (strings.EqualFold(toks[i+1].text, "by") || strings.EqualFold(toks[i+1].text, "without")):
			// an aggregation, by (...) first: sum by (l) (expr)
		case is(i+1, tPunct, "("): // a function or aggregation
			switch {
			case unsupportedFuncs[t.text]:
				return nil, fmt.Errorf("%s(): not checked by this test; use label_values(metric{...}, label)", t.text)
			case t.text == "label_values":
				end := match[i+1]
				if toks[end-1].kind != tIdent {
					return nil, fmt.Errorf("label_values: no label name last")
				}
				skip[end-1] = true
				q.groups = append(q.groups, promGroup{kw: "label_values", labels: []string{toks[end-1].text}, scope: [2]int{i + 1, end}})
			case t.text == "histogram_quantile":
				q.quantiles = append(q.quantiles, [2]int{i + 1, match[i+1]})
			}
		default: // a metric name
			r := promRef{at: i, metric: t.text}
			if is(i+1, tPunct, "{") {
				m, err := matchers(i + 1)
				if err != nil {
					return nil, err
				}
				r.matchers = m
				i = match[i+1]
			}
			q.refs = append(q.refs, r)
		}
	}
	return q, nil
}

// refsIn returns the selectors within the token range.
func (q *promQuery) refsIn(scope [2]int) []promRef {
	var out []promRef
	for _, r := range q.refs {
		if r.at > scope[0] && r.at < scope[1] {
			out = append(out, r)
		}
	}
	return out
}

var (
	// plainAlternatives is a regular expression that only lists values: a|b.
	plainAlternatives = regexp.MustCompile(`^[a-z0-9_|]+$`)
	// legendLabel is a label in a Grafana legend: {{label}}.
	legendLabel = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
)

// extraSeries are series every scrape makes, usable too.
var extraSeries = map[string]series{"up": {family: "up", labels: map[string]bool{}}}

// checkPromQL returns what is wrong with expr: metrics the daemon does not
// export, labels they do not have, label values they never take, label
// lists naming labels the grouped series lack, histogram_quantile without
// le, and legend labels ({{label}}) the result cannot have.
func checkPromQL(expr, legend string, known map[string]series, values map[string][]string) []string {
	q, err := analyzePromQL(expr)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	lookup := func(metric string) (series, bool) {
		if s, ok := known[metric]; ok {
			return s, true
		}
		s, ok := extraSeries[metric]
		return s, ok
	}
	has := func(metric, label string) bool {
		s, ok := lookup(metric)
		return !ok || s.labels[label] || slices.Contains(targetLabels, label) // unknown metrics are reported once, below
	}
	if len(q.refs) == 0 {
		bad("no metric in %q", expr)
	}
	for _, r := range q.refs {
		if r.metric == "" {
			bad("a selector without a metric name ({...}): name the metric, so it can be checked")
			continue
		}
		if _, ok := lookup(r.metric); !ok {
			bad("%s: not a metric the daemon exports", r.metric)
			continue
		}
		for _, m := range r.matchers {
			if m.label == "__name__" {
				bad("%s: matches __name__; name the metric instead", r.metric)
				continue
			}
			if !has(r.metric, m.label) {
				bad("%s has no label %q", r.metric, m.label)
				continue
			}
			allowed, listed := values[m.label]
			if !listed || strings.Contains(m.value, "$") || (m.op != "=" && m.op != "=~") {
				continue
			}
			vals := []string{m.value}
			if m.op == "=~" {
				if !plainAlternatives.MatchString(m.value) {
					continue // a real regular expression: not checked
				}
				vals = strings.Split(m.value, "|")
			}
			for _, v := range vals {
				if !slices.Contains(allowed, v) {
					bad("%s{%s%s%q}: %q is not a %s the daemon exports (%s)", r.metric, m.label, m.op, m.value, v, m.label, strings.Join(allowed, ", "))
				}
			}
		}
	}
	byLabels := map[string]bool{}
	for _, g := range q.groups {
		refs := q.refsIn(g.scope)
		for _, l := range g.labels {
			if g.kw == "by" {
				byLabels[l] = true
			}
			var lacking []string
			for _, r := range refs {
				if r.metric != "" && !has(r.metric, l) {
					lacking = append(lacking, r.metric)
				}
			}
			if len(lacking) > 0 && (g.kw != "group_left" && g.kw != "group_right" || len(lacking) == len(refs)) {
				slices.Sort(lacking)
				bad("%s (%s): %s has no label %q", g.kw, strings.Join(g.labels, ", "), strings.Join(slices.Compact(lacking), ", "), l)
			}
		}
	}
	for _, scope := range q.quantiles {
		for _, r := range q.refsIn(scope) {
			if s, ok := lookup(r.metric); ok && (!strings.HasSuffix(r.metric, "_bucket") || !s.labels["le"]) {
				bad("histogram_quantile over %s, which is not a histogram's _bucket series", r.metric)
			}
		}
		for _, g := range q.groups {
			inside := g.scope[0] > scope[0] && g.scope[1] < scope[1]
			if inside && (g.kw == "by" || g.kw == "without") && (g.kw == "by") != slices.Contains(g.labels, "le") {
				bad("histogram_quantile: %s (%s) must keep le", g.kw, strings.Join(g.labels, ", "))
			}
		}
	}
	// Legend labels: with a by clause, the result has at most the by
	// labels; otherwise those of the series and the scrape's.
	for _, m := range legendLabel.FindAllStringSubmatch(legend, -1) {
		l := m[1]
		if len(byLabels) > 0 {
			if !byLabels[l] {
				bad("legend %q: {{%s}} is not among the by labels (%s)", legend, l, strings.Join(sortedKeys(byLabels), ", "))
			}
			continue
		}
		found := slices.Contains(targetLabels, l)
		for _, r := range q.refs {
			if s, ok := lookup(r.metric); ok && s.labels[l] {
				found = true
			}
		}
		if !found {
			bad("legend %q: no series here has label %q", legend, l)
		}
	}
	return problems
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestCheckPromQL shows the checker catches each kind of mistake, with the
// daemon's real metrics, and takes good queries.
func TestCheckPromQL(t *testing.T) {
	known := seriesNames(daemonMetrics(t))
	values := labelValues()
	L := `instance=~"$instance", bond=~"$bond", link=~"$link"`
	for _, c := range []struct {
		expr, legend, want string // want: "" for no problem, else part of one
	}{
		{`multilink_link_loss_ratio{` + L + `}`, "{{bond}}/{{link}}", ""},
		{`sum by (bond, link) (rate(multilink_link_probes_sent_total{` + L + `}[$__rate_interval]))`, "{{bond}}/{{link}} sent", ""},
		{`histogram_quantile(0.99, sum by (bond, link, le) (rate(multilink_link_rtt_seconds_bucket{` + L + `}[5m])))`, "{{link}}", ""},
		{`sum(rate(multilink_link_rtt_seconds_bucket[1m])) by (le)`, "{{le}}", ""},
		{`max by (bond, link) ((multilink_link_state{state="up"} * 1) or (multilink_link_state{state=~"degraded|down"} * 2))`, "", ""},
		{`process_resident_memory_bytes{instance=~"$instance"} and on (instance, job) multilink_build_info`, "{{instance}}", ""},
		{`label_values(multilink_link_probe_interval_seconds{instance=~"$instance"}, bond)`, "", ""},
		{`rate(multilink_link_rtt_seconds_sum[5m] offset 1h) / rate(multilink_link_rtt_seconds_count[5m] offset 1h)`, "", ""},
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
		{`histogram_quantile(0.9, rate(multilink_link_rtt_seconds_sum[5m]))`, "", "not a histogram's _bucket"},
		{`{__name__="multilink_link_loss_ratio"}`, "", "without a metric name"},
		{`multilink_link_loss_ratio{__name__=~"x"}`, "", "__name__"},
		{`multilink_active_link and on (reason) multilink_bond_info`, "", `no label "reason"`},
		{`label_values(multilink_bond_info, link)`, "", `no label "link"`},
		{`sum by (bond) (multilink_link_loss_ratio)`, "{{link}}", "not among the by labels"},
		{`multilink_failovers_total`, "{{link}}", `no series here has label "link"`},
		{`go_goroutine`, "", "not a metric"},
		{`label_names()`, "", "not checked"},
		{`sum by bond (multilink_link_loss_ratio)`, "", "without a label list"},
		{`sum without (link) (multilink_link_loss_ratio)`, "{{bond}}", ""},
		{`sum by (link) multilink_link_loss_ratio`, "", "cannot tell what by"},
		{`multilink_link_loss_ratio{bond=~"$bond"`, "", "unclosed"},
		{`rate([[x]])`, "", "old [[variable]]"},
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
