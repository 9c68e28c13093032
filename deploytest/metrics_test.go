package deploytest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/buildinfo"
	"github.com/multilink/multilink/internal/config"
	"github.com/multilink/multilink/internal/notify"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/daemon"
	"github.com/multilink/multilink/internal/failover"
	"github.com/multilink/multilink/internal/gateway"
	"github.com/multilink/multilink/internal/hub"
	mlprobe "github.com/multilink/multilink/internal/probe" // probe is a type here (manifest_test.go)
	"github.com/multilink/multilink/internal/testsupport"
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
	roles := []string{}
	pendingFake{}.each(func(role string) { roles = append(roles, role) })
	return map[string][]string{"state": states, "reason": failover.Reasons(), "tunnel_mode": {api.TunnelTLS, api.TunnelStatic}, "role": roles}
}

// roleCollectors are the collectors the daemon registers for its roles
// (daemon.go): the gateway's, the hub's, the pending starts' and the
// hooks', over fakes. The hub serves nothing: its families are known by
// their descriptions; the one hook delivers nothing.
func roleCollectors(t *testing.T, brain *failover.Manager) []prometheus.Collector {
	h := hub.New(hub.Options{Netlink: testsupport.NewFakeNetlink()})
	hooks, err := notify.New(notify.Options{Hooks: []config.Hook{{Name: "pager", Webhook: &config.Webhook{URL: "http://192.0.2.1/hook"}}}})
	if err != nil {
		t.Fatalf("hooks: %v", err)
	}
	return append(append(gateway.Collectors(fakeLinks{}, brain, fakeBonds{}), h.Collector(), daemon.PendingCollector(pendingFake{})), hooks.Collectors()...)
}

// pendingFake has one pending server and one pending client.
type pendingFake struct{}

func (pendingFake) PendingCount() (servers, clients int) { return 1, 1 }

// each calls fn with each role the pending collector exports.
func (p pendingFake) each(fn func(string)) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(daemon.PendingCollector(p))
	fams, _ := reg.Gather()
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "role" {
					fn(l.GetValue())
				}
			}
		}
	}
}

// daemonMetrics returns the metric families the daemon's /metrics serves,
// by name: its registry (daemon.NewRegistry) over fakes with one link and
// one bond of data, every collector asked to Describe, and to Collect for
// the types.
func daemonMetrics(t *testing.T) map[string]family {
	t.Helper()
	brain := failover.NewManager(fakeSamples{}, nil)
	t.Cleanup(brain.Close)
	reg, err := daemon.NewRegistry(roleCollectors(t, brain), buildinfo.Read("test", "test"))
	if err != nil {
		t.Fatal(err)
	}
	fams := map[string]family{}
	gathered, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range gathered {
		fam := family{labels: map[string]bool{}, kind: strings.ToLower(mf.GetType().String()), from: "daemon.NewRegistry"}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				fam.labels[lp.GetName()] = true
			}
		}
		fams[mf.GetName()] = fam
	}
	// Families with no sample over the fakes still have their description.
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range daemon.Collectors(roleCollectors(t, brain), buildinfo.Read("test", "test")) {
			c.Describe(ch)
		}
		close(ch)
	}()
	for d := range ch {
		n, labels, err := parseDesc(d.String())
		if err != nil {
			t.Fatal(err)
		}
		fam, ok := fams[n]
		if !ok {
			fam = family{labels: map[string]bool{}, from: "daemon.NewRegistry"}
		}
		for l := range labels {
			fam.labels[l] = true
		}
		fams[n] = fam
	}
	return fams
}

// fakeBonds lists one kernel bond.
type fakeBonds struct{}

func (fakeBonds) Status(context.Context) []api.ClientStatus {
	return []api.ClientStatus{{Bond: "bond0", Driver: "kernel"}}
}

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
		"multilink_link_rtt_seconds":                          {"histogram", []string{"bond", "link"}},
		"multilink_link_loss_ratio":                           {"gauge", []string{"bond", "link"}},
		"multilink_link_last_reply_age_seconds":               {"gauge", []string{"bond", "link"}},
		"multilink_link_probes_sent_total":                    {"counter", []string{"bond", "link"}},
		"multilink_probe_scrape_duration_seconds":             {"gauge", nil},
		"multilink_failovers_total":                           {"", []string{"bond", "reason"}},
		"multilink_active_link":                               {"", []string{"bond", "link"}},
		"multilink_link_state":                                {"", []string{"bond", "link", "state"}},
		"multilink_bond_info":                                 {"", []string{"bond", "driver"}},
		"multilink_build_info":                                {"gauge", []string{"commit", "goversion", "version"}},
		"multilink_pending_starts":                            {"gauge", []string{"role"}},
		"multilink_hub_bridge_info":                           {"", []string{"bridge", "tunnel_mode"}},
		"multilink_hub_bridge_holder_info":                    {"", []string{"bond", "bridge", "gateway_id"}},
		"multilink_hub_link_up":                               {"", []string{"bridge", "link"}},
		"multilink_hub_link_openvpn_restarts_total":           {"", []string{"bridge", "link"}},
		"multilink_hub_link_peer_last_seen_timestamp_seconds": {"", []string{"bridge", "link"}},
		"multilink_hub_link_rx_bytes_total":                   {"", []string{"bridge", "link"}},
		"multilink_hub_link_tx_bytes_total":                   {"", []string{"bridge", "link"}},
		"multilink_hub_link_rx_frames_total":                  {"", []string{"bridge", "link"}},
		"multilink_hub_link_tx_frames_total":                  {"", []string{"bridge", "link"}},
		"go_goroutines":                                       {"gauge", nil},
		"process_resident_memory_bytes":                       {"gauge", nil},
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
