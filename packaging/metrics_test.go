package packaging

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/multilink/multilink/failover"
	mlprobe "github.com/multilink/multilink/probe" // probe is a type here (manifest_test.go)
)

// A metric family the daemon's /metrics serves.
type family struct {
	labels map[string]bool // variable and constant labels
	kind   string          // counter, gauge, histogram, summary, untyped; "" when not known
	from   string          // the collector that exports it
}

// A series name a query can use: a family's own name, or for a histogram
// or summary its _bucket, _sum and _count.
type series struct {
	family string
	labels map[string]bool // with le (buckets) or quantile (summaries)
}

// targetLabels are the labels every Prometheus scrape adds to each series.
var targetLabels = []string{"instance", "job"}

// labelValues are the values some labels can take, from the daemon's code.
func labelValues() map[string][]string {
	states := []string{}
	for _, s := range failover.States() {
		states = append(states, string(s))
	}
	return map[string][]string{"state": states, "reason": failover.Reasons()}
}

// metricsFile is the file with the daemon's registry (metricsHandler).
var metricsFile = filepath.Join(repoRoot, "daemon", "metrics.go")

// daemonMetrics returns the metric families the daemon's /metrics serves,
// by name. It reads daemon/metrics.go for the collectors metricsHandler
// registers; the exported ones (probe, failover, Go, process) are built
// here and asked to Describe, and to Collect where that needs no daemon,
// for the types. The daemon's own unexported ones (bond info, build info)
// are read from the file's prometheus.NewDesc calls and *Opts literals.
func daemonMetrics(t *testing.T) map[string]family {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, metricsFile, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	registered := registeredCollectors(t, f)
	fams := map[string]family{}
	add := func(name string, fam family) {
		if old, dup := fams[name]; dup {
			t.Fatalf("metric %s exported twice (%s and %s)", name, old.from, fam.from)
		}
		fams[name] = fam
	}

	// The exported collectors, built here as metricsHandler builds them,
	// over fakes with one link of data, so that Collect gives the types.
	brain := failover.NewManager(fakeSamples{}, nil)
	t.Cleanup(brain.Close)
	known := map[string]prometheus.Collector{
		"collectors.NewGoCollector":      collectors.NewGoCollector(),
		"collectors.NewProcessCollector": collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		"probe.NewCollector":             mlprobe.NewCollector(fakeLinks{}),
		"failover.NewCollector":          failover.NewCollector(brain),
	}
	reg := prometheus.NewPedanticRegistry()
	for _, name := range registered {
		c, ok := known[name]
		if !ok {
			continue // the daemon's own: read from the file below
		}
		if err := reg.Register(c); err != nil {
			t.Fatalf("register %s: %v", name, err)
		}
		ch := make(chan *prometheus.Desc)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			n, labels, err := parseDesc(d.String())
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			add(n, family{labels: labels, from: name})
		}
	}
	gathered, err := reg.Gather()
	if err != nil {
		t.Logf("gather (types only; kept what came): %v", err)
	}
	for _, mf := range gathered {
		fam, ok := fams[mf.GetName()]
		if !ok {
			t.Errorf("collected %s, which no collector describes", mf.GetName())
			continue
		}
		fam.kind = strings.ToLower(mf.GetType().String())
		fams[mf.GetName()] = fam
		for _, m := range mf.GetMetric() { // labels only Collect shows (none today)
			for _, lp := range m.GetLabel() {
				fam.labels[lp.GetName()] = true
			}
		}
	}
	for name, fam := range sourceMetrics(t, fset, f) {
		add(name, fam)
	}
	return fams
}

// registeredCollectors returns the collectors metricsHandler registers:
// pkg.Func for a call, the literal's text otherwise (bondCollector{gw}).
func registeredCollectors(t *testing.T, f *ast.File) []string {
	t.Helper()
	var out []string
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "metricsHandler" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok || exprText(lit.Type) != "[]prometheus.Collector" {
				return true
			}
			found = true
			for _, e := range lit.Elts {
				if call, ok := e.(*ast.CallExpr); ok {
					out = append(out, exprText(call.Fun))
				} else {
					out = append(out, exprText(e))
				}
			}
			return false
		})
		return false
	})
	if !found {
		t.Fatalf("%s: no []prometheus.Collector{...} in metricsHandler: the daemon's registry changed shape; "+
			"update daemonMetrics (or have the daemon export its metric names)", metricsFile)
	}
	return out
}

// sourceMetrics returns the metrics daemon/metrics.go defines itself:
// prometheus.NewDesc("name", help, []string{labels}, prometheus.Labels{...})
// and prometheus.XxxOpts{Name: "name", ConstLabels: ...}, with the label
// names of a NewXxxVec(opts, []string{...}) around the latter.
func sourceMetrics(t *testing.T, fset *token.FileSet, f *ast.File) map[string]family {
	t.Helper()
	out := map[string]family{}
	where := func(n ast.Node) string { return fset.Position(n.Pos()).String() }
	vecLabels := map[ast.Expr][]string{} // opts literal -> the Vec's labels
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		fun := exprText(call.Fun)
		switch {
		case fun == "prometheus.NewDesc":
			if len(call.Args) != 4 {
				t.Fatalf("%s: NewDesc with %d arguments", where(call), len(call.Args))
			}
			name := stringLit(t, where(call), call.Args[0])
			labels := map[string]bool{}
			for _, l := range stringList(t, where(call), call.Args[2]) {
				labels[l] = true
			}
			for _, l := range mapKeys(t, where(call), call.Args[3]) {
				labels[l] = true
			}
			out[name] = family{labels: labels, from: "daemon (NewDesc)"}
		case strings.HasPrefix(fun, "prometheus.New") && strings.HasSuffix(fun, "Vec") && len(call.Args) == 2:
			vecLabels[call.Args[0]] = stringList(t, where(call), call.Args[1])
		}
		return true
	})
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		typ := exprText(lit.Type)
		kind, ok := map[string]string{"prometheus.GaugeOpts": "gauge", "prometheus.CounterOpts": "counter",
			"prometheus.HistogramOpts": "histogram", "prometheus.SummaryOpts": "summary"}[typ]
		if !ok {
			return true
		}
		var parts [3]string // namespace, subsystem, name
		labels := map[string]bool{}
		for _, e := range lit.Elts {
			kv, ok := e.(*ast.KeyValueExpr)
			if !ok {
				t.Fatalf("%s: %s without field names", where(lit), typ)
			}
			switch exprText(kv.Key) {
			case "Namespace":
				parts[0] = stringLit(t, where(kv), kv.Value)
			case "Subsystem":
				parts[1] = stringLit(t, where(kv), kv.Value)
			case "Name":
				parts[2] = stringLit(t, where(kv), kv.Value)
			case "ConstLabels":
				for _, l := range mapKeys(t, where(kv), kv.Value) {
					labels[l] = true
				}
			}
		}
		for _, l := range vecLabels[lit] {
			labels[l] = true
		}
		out[prometheus.BuildFQName(parts[0], parts[1], parts[2])] = family{labels: labels, kind: kind, from: "daemon (" + typ + ")"}
		return true
	})
	if len(out) == 0 {
		t.Fatalf("%s: no metric defined there; update sourceMetrics", metricsFile)
	}
	return out
}

// exprText renders a type or selector expression: []pkg.T, pkg.F, T{...}.
func exprText(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return exprText(x.X) + "." + x.Sel.Name
	case *ast.ArrayType:
		return "[]" + exprText(x.Elt)
	case *ast.StarExpr:
		return "*" + exprText(x.X)
	case *ast.CompositeLit:
		return exprText(x.Type) + "{...}"
	case *ast.CallExpr:
		return exprText(x.Fun) + "(...)"
	}
	return fmt.Sprintf("%T", e)
}

// stringLit returns a string literal's value; anything else fails the
// test, since the name would not be known without running the daemon.
func stringLit(t *testing.T, where string, e ast.Expr) string {
	t.Helper()
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		t.Fatalf("%s: %s is not a string literal; update sourceMetrics", where, exprText(e))
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stringList returns the strings of []string{"a", "b"}; nil for nil.
func stringList(t *testing.T, where string, e ast.Expr) []string {
	t.Helper()
	if id, ok := e.(*ast.Ident); ok && id.Name == "nil" {
		return nil
	}
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		t.Fatalf("%s: label names %s are not a []string literal; update sourceMetrics", where, exprText(e))
	}
	var out []string
	for _, el := range lit.Elts {
		out = append(out, stringLit(t, where, el))
	}
	return out
}

// mapKeys returns the keys of prometheus.Labels{"k": v}; nil for nil.
func mapKeys(t *testing.T, where string, e ast.Expr) []string {
	t.Helper()
	if id, ok := e.(*ast.Ident); ok && id.Name == "nil" {
		return nil
	}
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		t.Fatalf("%s: constant labels %s are not a literal; update sourceMetrics", where, exprText(e))
	}
	var out []string
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			t.Fatalf("%s: constant labels without keys", where)
		}
		out = append(out, stringLit(t, where, kv.Key))
	}
	return out
}

// parseDesc reads the name and label names out of Desc.String():
// Desc{fqName: "n", help: "h", unit: "u", constLabels: {a="x",b="y"}, variableLabels: {c,d}}
// (a variable label with a constraint prints as c(name)).
func parseDesc(s string) (string, map[string]bool, error) {
	bad := func(why string) (string, map[string]bool, error) {
		return "", nil, fmt.Errorf("cannot read Desc %q: %s", s, why)
	}
	rest, ok := strings.CutPrefix(s, "Desc{fqName: ")
	if !ok {
		return bad("no fqName")
	}
	quoted := func(field string) (string, bool) {
		if field != "" {
			var ok bool
			if rest, ok = strings.CutPrefix(rest, field); !ok {
				return "", false
			}
		}
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return "", false
		}
		rest = rest[len(q):]
		v, err := strconv.Unquote(q)
		return v, err == nil
	}
	name, ok := quoted("")
	if !ok {
		return bad("fqName")
	}
	if _, ok := quoted(", help: "); !ok {
		return bad("help")
	}
	if _, ok := quoted(", unit: "); !ok {
		return bad("unit")
	}
	labels := map[string]bool{}
	if rest, ok = strings.CutPrefix(rest, ", constLabels: {"); !ok {
		return bad("constLabels")
	}
	for !strings.HasPrefix(rest, "}") {
		k, _, ok := strings.Cut(rest, "=")
		if !ok {
			return bad("constant label")
		}
		rest = rest[len(k)+1:]
		if _, ok := quoted(""); !ok {
			return bad("constant label value")
		}
		labels[k] = true
		rest = strings.TrimPrefix(rest, ",")
	}
	vars, ok := strings.CutPrefix(rest, "}, variableLabels: {")
	if ok {
		vars, ok = strings.CutSuffix(vars, "}}")
	}
	if !ok {
		return bad("variableLabels")
	}
	for _, v := range strings.Split(vars, ",") {
		if v = strings.TrimSuffix(strings.TrimPrefix(v, "c("), ")"); v != "" {
			labels[v] = true
		}
	}
	if name == "" {
		return bad("empty name")
	}
	return name, labels, nil
}

// seriesNames expands families into the series names queries can use.
func seriesNames(fams map[string]family) map[string]series {
	out := map[string]series{}
	for name, fam := range fams {
		out[name] = series{family: name, labels: fam.labels}
		var extra string
		switch fam.kind {
		case "histogram":
			extra = "le"
			out[name+"_bucket"] = series{family: name, labels: withLabel(fam.labels, "le")}
		case "summary":
			extra = "quantile"
		default:
			continue
		}
		if extra == "quantile" {
			out[name] = series{family: name, labels: withLabel(fam.labels, "quantile")}
		} else {
			delete(out, name) // a histogram has no series of its bare name
		}
		out[name+"_sum"] = series{family: name, labels: fam.labels}
		out[name+"_count"] = series{family: name, labels: fam.labels}
	}
	return out
}

func withLabel(labels map[string]bool, l string) map[string]bool {
	out := map[string]bool{l: true}
	for k := range labels {
		out[k] = true
	}
	return out
}

// fakeLinks is a probe.Source with one link, every figure present, so the
// collector exports each series (and its type).
type fakeLinks struct{}

func (fakeLinks) Links() []mlprobe.LinkStats {
	return []mlprobe.LinkStats{{
		Bond: "bond0", Link: "tap1", Interval: 20 * time.Millisecond,
		Figures:      mlprobe.Figures{RTTLast: time.Millisecond, RTTSmoothed: time.Millisecond, HasRTT: true, Decided: 10},
		LastReplyAge: time.Second, LastRxAge: time.Second,
		Histogram: []mlprobe.Bucket{{UpperBound: time.Millisecond, Count: 1}, {Count: 0}},
		RTTSum:    time.Millisecond,
	}}
}

// fakeSamples is a failover.Source that never sends; its cancel closes
// the channel, as the probe's does.
type fakeSamples struct{}

func (fakeSamples) Subscribe(int) (<-chan mlprobe.Sample, func()) {
	ch := make(chan mlprobe.Sample)
	return ch, func() { close(ch) }
}

// TestDaemonMetrics checks daemonMetrics finds what the dashboard relies
// on, with the labels and types the daemon's code gives them.
func TestDaemonMetrics(t *testing.T) {
	fams := daemonMetrics(t)
	want := map[string]struct {
		kind   string // "": any (the collector exports nothing without a running engine)
		labels []string
	}{
		"multilink_link_rtt_seconds":              {"histogram", []string{"bond", "link"}},
		"multilink_link_loss_ratio":               {"gauge", []string{"bond", "link"}},
		"multilink_link_last_reply_age_seconds":   {"gauge", []string{"bond", "link"}},
		"multilink_link_probes_sent_total":        {"counter", []string{"bond", "link"}},
		"multilink_probe_scrape_duration_seconds": {"gauge", nil},
		"multilink_failovers_total":               {"", []string{"bond", "reason"}},
		"multilink_active_link":                   {"", []string{"bond", "link"}},
		"multilink_link_state":                    {"", []string{"bond", "link", "state"}},
		"multilink_bond_info":                     {"", []string{"bond", "driver"}},
		"multilink_build_info":                    {"gauge", []string{"version"}},
		"go_goroutines":                           {"gauge", nil},
		"process_resident_memory_bytes":           {"gauge", nil},
	}
	for name, w := range want {
		fam, ok := fams[name]
		if !ok {
			t.Errorf("%s: not found", name)
			continue
		}
		var got []string
		for l := range fam.labels {
			got = append(got, l)
		}
		sort.Strings(got)
		if (w.kind != "" && fam.kind != w.kind) || !slices.Equal(got, w.labels) {
			t.Errorf("%s: %s %q, want %s %q", name, fam.kind, got, w.kind, w.labels)
		}
	}
	s := seriesNames(fams)
	for _, name := range []string{"multilink_link_rtt_seconds_bucket", "multilink_link_rtt_seconds_sum", "multilink_link_rtt_seconds_count"} {
		if _, ok := s[name]; !ok {
			t.Errorf("series %s missing", name)
		}
	}
	if _, ok := s["multilink_link_rtt_seconds"]; ok {
		t.Error("a histogram's bare name is not a series")
	}
	if !s["multilink_link_rtt_seconds_bucket"].labels["le"] {
		t.Error("multilink_link_rtt_seconds_bucket has no le label")
	}
	var names []string
	for n := range fams {
		if strings.HasPrefix(n, "multilink_") {
			names = append(names, n+" "+fams[n].kind)
		}
	}
	sort.Strings(names)
	t.Logf("%d families, multilink's: %s", len(fams), strings.Join(names, ", "))
}

func TestParseDesc(t *testing.T) {
	d := prometheus.NewDesc("a_b", `help with "quotes", {braces} and constLabels: {x}`, []string{"bond", "link"}, prometheus.Labels{"version": `1,"2"}`})
	name, labels, err := parseDesc(d.String())
	if err != nil || name != "a_b" || len(labels) != 3 || !labels["bond"] || !labels["link"] || !labels["version"] {
		t.Errorf("parseDesc(%s) = %q %v %v", d, name, labels, err)
	}
	name, labels, err = parseDesc(prometheus.NewDesc("c", "h", nil, nil).String())
	if err != nil || name != "c" || len(labels) != 0 {
		t.Errorf("no labels: %q %v %v", name, labels, err)
	}
	if _, _, err := parseDesc("Desc{something else}"); err == nil {
		t.Error("parseDesc took junk")
	}
}
