package gateway

import (
	"testing"
	"time"

	"github.com/multilink/multilink/internal/probe"
)

func TestGraceFor(t *testing.T) {
	ms := time.Millisecond
	fig := func(srtt, rttvar time.Duration) probe.Figures {
		return probe.Figures{RTTSmoothed: srtt, RTTVar: rttvar, HasRTT: true}
	}
	for _, c := range []struct {
		name  string
		links []probe.Figures
		want  time.Duration
	}{
		{"no RTT yet", []probe.Figures{{}, {}}, switchGrace},
		{"fast links", []probe.Figures{fig(3*ms, 1*ms), fig(4*ms, 2*ms)}, switchGrace},
		{"slow old link", []probe.Figures{fig(300*ms, 20*ms), fig(3*ms, 1*ms)}, 2 * (380*ms + 7*ms)},
		{"jittery new link", []probe.Figures{fig(3*ms, 1*ms), fig(100*ms, 100*ms)}, 2 * (7*ms + 500*ms)},
		{"a link without RTT", []probe.Figures{fig(200*ms, 50*ms), {RTTSmoothed: time.Second}}, 800 * ms},
		{"three links: the two slowest", []probe.Figures{fig(100*ms, 0), fig(3*ms, 1*ms), fig(200*ms, 0)}, 600 * ms},
		{"capped", []probe.Figures{fig(2*time.Second, time.Second), fig(3*ms, 1*ms)}, maxSwitchGrace},
	} {
		if got := graceFor(c.links...); got != c.want {
			t.Errorf("%s: graceFor = %v, want %v", c.name, got, c.want)
		}
	}
}
