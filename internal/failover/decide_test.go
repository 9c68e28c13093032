package failover

import (
	"testing"
	"time"

	"github.com/multilink/multilink/api"
)

func TestDecideBetweenBadLinksWaits(t *testing.T) {
	slow := candidate{name: "tap1", state: api.LinkDegraded, score: 300 * time.Millisecond, rtt: true}
	down := candidate{name: "tap2", state: api.LinkDown}
	up := candidate{name: "tap2", state: api.LinkUp, score: time.Millisecond}
	// The active tap2 just went down, tap1 is only degraded: not settled, stay.
	if got, why := decide([]candidate{slow, down}, "tap2", "", 0.2, false); got != "tap2" || why != "" {
		t.Errorf("unsettled: %s %q, want to stay on tap2", got, why)
	}
	if got, why := decide([]candidate{slow, down}, "tap2", "", 0.2, true); got != "tap1" || why != ReasonDown {
		t.Errorf("settled: %s %q, want tap1 for down", got, why)
	}
	// A healthy link is taken at once, settled or not.
	if got, why := decide([]candidate{{name: "tap1", state: api.LinkDown}, up}, "tap1", "", 0.2, false); got != "tap2" || why != ReasonDown {
		t.Errorf("unsettled with an up link: %s %q, want tap2", got, why)
	}
}

func TestDecide(t *testing.T) {
	up := func(n string) candidate { return candidate{name: n, state: api.LinkUp, score: time.Millisecond} }
	down := func(n string) candidate { return candidate{name: n, state: api.LinkDown} }
	slow := func(n string, score time.Duration) candidate {
		return candidate{name: n, state: api.LinkDegraded, score: score, rtt: true}
	}
	lossy := func(n string, score time.Duration) candidate {
		return candidate{name: n, state: api.LinkDegraded, score: score}
	}
	cases := []struct {
		name      string
		links     []candidate
		active    string
		pin       string
		want, why string
	}{
		{"primary up stays", []candidate{up("tap1"), up("tap2")}, "tap1", "", "tap1", ""},
		{"primary dead", []candidate{down("tap1"), up("tap2")}, "tap1", "", "tap2", ReasonDown},
		{"primary slow", []candidate{slow("tap1", 300*time.Millisecond), up("tap2")}, "tap1", "", "tap2", ReasonRTT},
		{"primary lossy", []candidate{lossy("tap1", 300*time.Millisecond), up("tap2")}, "tap1", "", "tap2", ReasonLoss},
		{"failback", []candidate{up("tap1"), up("tap2")}, "tap2", "", "tap1", ReasonFailback},
		{"lower priority recovers: stay", []candidate{up("tap1"), up("tap2"), up("tap3")}, "tap2", "", "tap1", ReasonFailback},
		{"backup up, higher one in hold-down: stay", []candidate{lossy("tap1", time.Millisecond), up("tap2")}, "tap2", "", "tap2", ""},
		{"all degraded: best score", []candidate{slow("tap1", 400*time.Millisecond), slow("tap2", 100*time.Millisecond)}, "tap1", "", "tap2", ReasonRTT},
		{"all degraded: sticky", []candidate{slow("tap1", 100*time.Millisecond), slow("tap2", 90*time.Millisecond)}, "tap1", "", "tap1", ""},
		{"active dead, others degraded", []candidate{down("tap1"), slow("tap2", 500*time.Millisecond)}, "tap1", "", "tap2", ReasonDown},
		{"all down: keep", []candidate{down("tap1"), down("tap2")}, "tap2", "", "tap2", ""},
		{"unknown at start: keep", []candidate{{name: "tap1", state: api.LinkUnknown}, {name: "tap2", state: api.LinkUnknown}}, "tap1", "", "tap1", ""},
		{"no active yet", []candidate{up("tap1"), up("tap2")}, "", "", "tap1", ReasonStart},
		{"pin wins over health", []candidate{up("tap1"), down("tap2")}, "tap1", "tap2", "tap2", ReasonManual},
		{"pinned stays", []candidate{up("tap1"), up("tap2")}, "tap2", "tap2", "tap2", ""},
	}
	for _, c := range cases {
		got, why := decide(c.links, c.active, c.pin, 0.2, true)
		if got != c.want || why != c.why {
			t.Errorf("%s: decide = %s (%q), want %s (%q)", c.name, got, why, c.want, c.why)
		}
	}
}
