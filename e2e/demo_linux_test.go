package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/demo"
	"github.com/multilink/multilink/internal/nstest"
)

// TestDemo runs `multilink demo --json`, the README's first command, and
// checks its summary: every step ended on the expected link, the cut and
// the degradations were left for tap2 for the right reasons, failback
// lost nothing, and nothing of the demo is left on the host. The lab runs
// the same timeline as BenchmarkFailover and TestDegradedPrimary: under
// emulated CPUs the demo's default 60 ms dead time sees stalls as outages.
func TestDemo(t *testing.T) {
	nstest.RequireAdmin(t)
	nstest.RequireCommand(t, "openvpn")
	if nstest.InLab() {
		t.Skip("not applicable in the lab (emulated CPUs); BenchmarkFailover and TestDegradedPrimary play the same timeline there")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	before := netnsList(t)
	out, err := exec.CommandContext(ctx, buildBinary(t), "demo", "--json").Output()
	var sum demo.Summary
	if jerr := json.Unmarshal(out, &sum); jerr != nil {
		t.Fatalf("demo: %v; its output is not the JSON summary: %v\n%s", err, jerr, out)
	}
	if err != nil || !sum.OK || len(sum.Steps) != 6 {
		t.Fatalf("demo: %v, summary %+v", err, sum)
	}
	for i, st := range sum.Steps {
		if st.Active != st.Expect || st.SwitchMs == nil {
			t.Errorf("step %d %q: ended on %s (switch %v), want %s", i, st.Name, st.Active, st.SwitchMs, st.Expect)
		}
		if strings.HasPrefix(st.Name, "restore") {
			if st.Reason != "failback" || st.Lost != 0 {
				t.Errorf("step %q: reason %q, lost %d/%d: want a lossless failback", st.Name, st.Reason, st.Lost, st.Sent)
			}
		} else if st.Reason != "down" && !strings.HasPrefix(st.Reason, "degraded") {
			t.Errorf("step %q: reason %q", st.Name, st.Reason)
		}
		t.Logf("%-24s %s switch %.0f ms, blackout %.0f/%.0f ms, lost %d/%d (%s)", st.Name, st.Active, *st.SwitchMs,
			st.BlackoutGwHubMs, st.BlackoutHubGwMs, st.Lost, st.Sent, st.Reason)
	}
	if after := netnsList(t); after != before {
		t.Errorf("namespaces before the demo:\n%s\nafter:\n%s", before, after)
	}
}

func netnsList(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "mldemo-") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
