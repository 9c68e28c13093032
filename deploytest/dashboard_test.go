package deploytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The Grafana dashboards ship in both charts (Helm reads files only from
// inside a chart): one file each, kept byte-identical in each chart.
const (
	dashboardFile = "files/dashboard.json"
	// dashboardUID is what links and bookmarks point at: keep it.
	dashboardUID = "multilink-links"
	// The fleet dashboard: every daemon at once, one row per instance.
	fleetDashboardFile = "files/fleet-dashboard.json"
	fleetDashboardUID  = "multilink-fleet"
	// dsRef is the only datasource a panel or query may name: the
	// dashboard's datasource variable, so no Grafana-specific uid is baked in.
	dsRef = "${datasource}"
)

// Grafana's own variables, usable in queries and titles.
var grafanaVars = []string{"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms", "__from", "__to", "__all"}

// dashboardSpec is what one dashboard must be: its file and uid, the query
// variables it needs (multi: those multi-valued with All), and the panels
// it is for.
type dashboardSpec struct {
	file, uid string
	vars      []string
	multi     []string
	panels    []wantPanel
	repeatRow string // a row repeated over this variable ("": none needed)
}

// wantPanel is a panel a dashboard must have: of type typ ("": any), with
// a query matching expr.
type wantPanel struct{ what, typ, expr string }

// dashboards are the charts' dashboards.
var dashboards = []dashboardSpec{
	{dashboardFile, dashboardUID, []string{"instance", "bond", "link", "bridge"}, []string{"bond", "link", "bridge"}, linksPanels, ""},
	{fleetDashboardFile, fleetDashboardUID, []string{"job", "instance"}, []string{"job", "instance"}, fleetPanels, "instance"},
}

// loadDashboard reads a dashboard file of the first chart.
func loadDashboard(t *testing.T, file string) (raw []byte, dash map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "charts", charts[0].name, file))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: not valid JSON: %v", file, err)
	}
	return raw, dash
}

// panel is one dashboard panel, rows' nested panels included.
type panel struct {
	path string // titles from the top, for messages
	m    map[string]any
}

// allPanels returns the dashboard's panels, with those inside (collapsed) rows.
func allPanels(dash map[string]any) []panel {
	var out []panel
	var walk func(prefix string, list any)
	walk = func(prefix string, list any) {
		items, _ := list.([]any)
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			p := panel{path: prefix + fmt.Sprint(m["title"]), m: m}
			out = append(out, p)
			walk(p.path+" / ", m["panels"])
		}
	}
	walk("", dash["panels"])
	return out
}

// query is one PromQL expression of the dashboard, where it is and the
// legend it is drawn with.
type query struct {
	where, expr, legend string
}

// dashboardQueries returns every PromQL expression: panel targets,
// annotation queries and the query variables.
func dashboardQueries(t *testing.T, dash map[string]any) []query {
	t.Helper()
	var out []query
	for _, p := range allPanels(dash) {
		targets, _ := p.m["targets"].([]any)
		for _, x := range targets {
			tg, _ := x.(map[string]any)
			expr, _ := tg["expr"].(string)
			legend, _ := tg["legendFormat"].(string)
			out = append(out, query{fmt.Sprintf("panel %q target %v", p.path, tg["refId"]), expr, legend})
		}
	}
	for _, a := range list(dash, "annotations") {
		if expr, ok := a["expr"].(string); ok {
			title, _ := a["titleFormat"].(string)
			text, _ := a["textFormat"].(string)
			out = append(out, query{fmt.Sprintf("annotation %q", a["name"]), expr, title + " " + text})
		}
	}
	for _, v := range list(dash, "templating") {
		if v["type"] != "query" {
			continue
		}
		var expr string
		switch q := v["query"].(type) {
		case string:
			expr = q
		case map[string]any:
			expr, _ = q["query"].(string)
		}
		out = append(out, query{fmt.Sprintf("variable %q", v["name"]), expr, ""})
	}
	return out
}

// list returns dash[key].list, the shape of annotations and templating.
func list(dash map[string]any, key string) []map[string]any {
	var out []map[string]any
	outer, _ := dash[key].(map[string]any)
	items, _ := outer["list"].([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// TestDashboard checks each Grafana dashboard: the same file in both
// charts, valid JSON in Grafana's schema, its variables and datasource
// references, and every query against the metrics the daemon exports.
func TestDashboard(t *testing.T) {
	for _, spec := range dashboards {
		t.Run(spec.file, func(t *testing.T) { checkDashboard(t, spec) })
	}
}

func checkDashboard(t *testing.T, spec dashboardSpec) {
	raw, dash := loadDashboard(t, spec.file)

	t.Run("same file in both charts", func(t *testing.T) {
		for _, c := range charts[1:] {
			other, err := os.ReadFile(filepath.Join(repoRoot, "charts", c.name, spec.file))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, other) {
				t.Errorf("charts/%s/%s differs from charts/%s/%s: edit one and copy it over the other",
					c.name, spec.file, charts[0].name, spec.file)
			}
		}
	})

	t.Run("structure", func(t *testing.T) { checkDashboardStructure(t, dash, spec) })

	t.Run("queries use what the daemon exports", func(t *testing.T) {
		known := seriesNames(daemonMetrics(t))
		values := labelValues()
		queries := dashboardQueries(t, dash)
		if len(queries) < 10 {
			t.Fatalf("only %d queries found", len(queries))
		}
		for _, q := range queries {
			if strings.TrimSpace(q.expr) == "" {
				t.Errorf("%s: empty expression", q.where)
				continue
			}
			for _, p := range checkPromQL(q.expr, q.legend, known, values) {
				t.Errorf("%s: %s\n\t%s", q.where, p, q.expr)
			}
		}
	})

	t.Run("panels the dashboard must have", func(t *testing.T) { checkDashboardCoverage(t, dash, spec.panels) })
}

// checkDashboardStructure checks the dashboard's shape as Grafana reads it.
func checkDashboardStructure(t *testing.T, dash map[string]any, spec dashboardSpec) {
	if dash["uid"] != spec.uid {
		t.Errorf("uid %v, want %q (links and bookmarks point at it)", dash["uid"], spec.uid)
	}
	if s, _ := dash["title"].(string); s == "" {
		t.Error("no title")
	}
	if v, ok := dash["schemaVersion"].(float64); !ok || v < 36 || v > 41 {
		t.Errorf("schemaVersion %v: want a current one (36-41)", dash["schemaVersion"])
	}
	if id, ok := dash["id"]; ok && id != nil {
		t.Errorf("id %v: a provisioned dashboard must not carry a database id (null)", id)
	}
	if _, ok := dash["__inputs"]; ok {
		t.Error("__inputs: that is the import format; the sidecar provisions the dashboard as it is")
	}

	// Variables: the datasource, then the query variables from it.
	vars := map[string]map[string]any{}
	for _, v := range list(dash, "templating") {
		vars[fmt.Sprint(v["name"])] = v
	}
	if ds := vars["datasource"]; ds == nil || ds["type"] != "datasource" || ds["query"] != "prometheus" {
		t.Errorf("variable datasource: want type datasource over prometheus, got %v", ds)
	}
	for _, name := range spec.vars {
		v := vars[name]
		if v == nil || v["type"] != "query" {
			t.Errorf("variable %s: want a query variable, got %v", name, v)
			continue
		}
		if ref, _ := v["datasource"].(map[string]any); ref == nil || ref["uid"] != dsRef {
			t.Errorf("variable %s: datasource %v, want uid %s", name, v["datasource"], dsRef)
		}
	}
	for _, name := range spec.multi {
		if v := vars[name]; v != nil && (v["multi"] != true || v["includeAll"] != true) {
			t.Errorf("variable %s: want multi-value with All", name)
		}
	}

	// Every datasource reference is the variable (or Grafana's built-in
	// annotations); no datasource name or uid of some Grafana.
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "datasource" {
					checkDatasourceRef(t, path, e)
				}
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("dashboard", dash)

	// Panels: unique ids, on the 24-column grid, a known type, and (but
	// rows) the datasource variable and PromQL targets.
	types := map[string]bool{"row": true, "timeseries": true, "heatmap": true, "state-timeline": true, "stat": true,
		"table": true, "bargauge": true, "gauge": true, "text": true}
	ids := map[float64]string{}
	panels := allPanels(dash)
	if len(panels) < 10 {
		t.Fatalf("%d panels", len(panels))
	}
	for _, p := range panels {
		typ, _ := p.m["type"].(string)
		if !types[typ] {
			t.Errorf("panel %q: type %q is not one of Grafana's core panels this dashboard uses", p.path, typ)
		}
		id, ok := p.m["id"].(float64)
		if !ok {
			t.Errorf("panel %q: no id", p.path)
		} else if other, dup := ids[id]; dup {
			t.Errorf("panel %q: id %v also panel %q's", p.path, id, other)
		}
		ids[id] = p.path
		gp, _ := p.m["gridPos"].(map[string]any)
		x, _ := gp["x"].(float64)
		w, _ := gp["w"].(float64)
		h, _ := gp["h"].(float64)
		if w <= 0 || h <= 0 || x < 0 || x+w > 24 {
			t.Errorf("panel %q: gridPos %v off the 24-column grid", p.path, gp)
		}
		if r, ok := p.m["repeat"].(string); ok && (vars[r] == nil || vars[r]["multi"] != true) {
			t.Errorf("panel %q: repeats over $%s, which is not a multi-value variable", p.path, r)
		}
		if typ == "row" || typ == "text" {
			continue
		}
		if ref, _ := p.m["datasource"].(map[string]any); ref == nil || ref["uid"] != dsRef {
			t.Errorf("panel %q: datasource %v, want uid %s", p.path, p.m["datasource"], dsRef)
		}
		targets, _ := p.m["targets"].([]any)
		if len(targets) == 0 {
			t.Errorf("panel %q: no targets", p.path)
		}
		refIDs := map[string]bool{}
		for _, x := range targets {
			tg, _ := x.(map[string]any)
			if expr, _ := tg["expr"].(string); strings.TrimSpace(expr) == "" {
				t.Errorf("panel %q: a target without expr: %v", p.path, tg)
			}
			id, _ := tg["refId"].(string)
			if id == "" || refIDs[id] {
				t.Errorf("panel %q: refId %q missing or repeated", p.path, id)
			}
			refIDs[id] = true
		}
		if typ == "heatmap" {
			for _, x := range targets {
				if tg, _ := x.(map[string]any); tg["format"] != "heatmap" {
					t.Errorf("panel %q: heatmap target format %v, want heatmap (Grafana then de-accumulates the le buckets)", p.path, tg["format"])
				}
			}
		}
	}

	if spec.repeatRow != "" {
		repeated := false
		for _, p := range panels {
			repeated = repeated || p.m["type"] == "row" && p.m["repeat"] == spec.repeatRow
		}
		if !repeated {
			t.Errorf("no row repeated over $%s (one row per daemon)", spec.repeatRow)
		}
	}

	// Every $variable used is defined (or Grafana's own).
	defined := slices.Clone(grafanaVars)
	for name := range vars {
		defined = append(defined, name)
	}
	use := regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)
	check := func(where, s string) {
		for _, m := range use.FindAllStringSubmatch(s, -1) {
			if !slices.Contains(defined, m[1]) {
				t.Errorf("%s: $%s is not a variable of the dashboard: %s", where, m[1], s)
			}
		}
	}
	for _, q := range dashboardQueries(t, dash) {
		check(q.where, q.expr)
	}
	for _, p := range panels {
		check(fmt.Sprintf("panel %q title", p.path), fmt.Sprint(p.m["title"]))
	}
}

// checkDatasourceRef checks one datasource reference: the variable, or
// Grafana's built-in annotation source.
func checkDatasourceRef(t *testing.T, path string, ref any) {
	m, ok := ref.(map[string]any)
	if !ok {
		t.Errorf("%s: datasource %v: want {type, uid: %s}, not a name", path, ref, dsRef)
		return
	}
	switch {
	case m["type"] == "prometheus" && m["uid"] == dsRef:
	case m["type"] == "grafana" && m["uid"] == "-- Grafana --":
	default:
		t.Errorf("%s: datasource %v: want uid %s (no Grafana's own uid baked in)", path, m, dsRef)
	}
}

// checkDashboardCoverage checks the dashboard shows what it is for: each
// wanted panel, drawing the metric it is about.
func checkDashboardCoverage(t *testing.T, dash map[string]any, wants []wantPanel) {
	uses := func(p panel, re string) bool {
		targets, _ := p.m["targets"].([]any)
		for _, x := range targets {
			tg, _ := x.(map[string]any)
			if expr, _ := tg["expr"].(string); regexp.MustCompile(re).MatchString(expr) {
				return true
			}
		}
		return false
	}
	for _, want := range wants {
		found := false
		for _, p := range allPanels(dash) {
			if (want.typ == "" || p.m["type"] == want.typ) && uses(p, want.expr) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s panel: want a %s panel with a query matching %s", want.what, want.typ, want.expr)
		}
	}
}

// linksPanels are the panels of the packaging issue and the hub's.
var linksPanels = []wantPanel{
	{"RTT heatmap", "heatmap", `rate\(multilink_link_rtt_seconds_bucket\b`},
	{"RTT percentiles", "timeseries", `histogram_quantile\(0\.5,[^\n]*multilink_link_rtt_seconds_bucket`},
	{"RTT p90", "timeseries", `histogram_quantile\(0\.9,`},
	{"RTT p99", "timeseries", `histogram_quantile\(0\.99,`},
	{"smoothed RTT", "timeseries", `multilink_link_rtt_smoothed_seconds\b`},
	{"jitter", "timeseries", `multilink_link_jitter_seconds\b`},
	{"loss ratio", "timeseries", `multilink_link_loss_ratio\b`},
	{"last reply age", "timeseries", `multilink_link_last_reply_age_seconds\b`},
	{"link state timeline", "state-timeline", `multilink_link_state\b`},
	{"active link", "", `multilink_active_link\b`},
	{"failovers by reason", "timeseries", `by \([^)]*reason[^)]*\) \((rate|increase)\(multilink_failovers_total\b`},
	{"probes sent", "timeseries", `rate\(multilink_link_probes_sent_total\b`},
	{"probe replies", "timeseries", `rate\(multilink_link_probe_replies_total\b`},
	{"bytes received per link", "timeseries", `rate\(multilink_link_rx_bytes_total\b`},
	{"bytes sent per link", "timeseries", `rate\(multilink_link_tx_bytes_total\b`},
	{"bond driver table", "table", `multilink_bond_info\b`},
	{"hub bridges and holders table", "table", `multilink_hub_bridge_holder_info\b`},
	{"hub tunnel up", "state-timeline", `multilink_hub_link_up\b`},
	{"hub peer last heard", "timeseries", `time\(\) - multilink_hub_link_peer_last_seen_timestamp_seconds\b`},
	{"hub OpenVPN restarts", "timeseries", `increase\(multilink_hub_link_openvpn_restarts_total\b`},
	{"hub bytes received", "timeseries", `rate\(multilink_hub_link_rx_bytes_total\b`},
	{"hub bytes sent", "timeseries", `rate\(multilink_hub_link_tx_bytes_total\b`},
	{"hub frames received", "timeseries", `rate\(multilink_hub_link_rx_frames_total\b`},
	{"hub frames sent", "timeseries", `rate\(multilink_hub_link_tx_frames_total\b`},
	{"pending starts", "", `multilink_pending_starts\b`},
}

// fleetPanels: each gateway's active link and link states, switches, each
// hub's bridges, tunnels and peers, and rows repeated per daemon.
var fleetPanels = []wantPanel{
	{"bonds and active links table", "table", `multilink_active_link\b`},
	{"bonds on a backup", "", `multilink_link_preferred\b`},
	{"hub bridges and holders table", "table", `multilink_hub_bridge_holder_info\b`},
	{"automatic switches", "timeseries", `increase\(multilink_failovers_total\b`},
	{"link state per daemon", "state-timeline", `multilink_link_state\b`},
	{"hub tunnel up per daemon", "state-timeline", `multilink_hub_link_up\b`},
	{"hub peer last heard", "timeseries", `time\(\) - multilink_hub_link_peer_last_seen_timestamp_seconds\b`},
	{"pending starts", "", `multilink_pending_starts\b`},
}
