package probe

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/multilink/multilink/api"
)

type fakeSource []LinkStats

func (f fakeSource) Links() []LinkStats { return f }

func TestCollectorGolden(t *testing.T) {
	hist := make([]uint64, 24)
	hist[11], hist[12], hist[23] = 3, 1, 1 // [1024, 2048) us x3, [2048, 4096) us, one above 4.19 s
	links := fakeSource{
		{
			Bond: "bond0", Link: "tap1", Active: true, Interval: 20 * time.Millisecond,
			Figures:      Figures{RTTLast: 1500 * time.Microsecond, RTTSmoothed: 1500 * time.Microsecond, RTTVar: 250 * time.Microsecond, Jitter: 100 * time.Microsecond, HasRTT: true, Loss: 0.02, Decided: 50},
			LastReplyAge: 12 * time.Millisecond, LastRxAge: time.Millisecond,
			Counters:  api.LinkCounters{RxFrames: 100, RxBytes: 6400, TxFrames: 90, TxBytes: 5000, ArpRequests: 60, ArpReplies: 55, ProbesSent: 50, ProbeReplies: 5, Malformed: 1, VLAN: 2},
			Histogram: buckets(hist), RTTSum: 5 * time.Second,
		},
		{Bond: "bond0", Link: "tap2", Interval: time.Second, LastReplyAge: -1, LastRxAge: -1, Histogram: buckets(make([]uint64, 24))},
	}
	golden, err := os.ReadFile("testdata/metrics.golden")
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, m := range metrics {
		names = append(names, m.name)
	}
	names = append(names, rttHistogram)
	if err := testutil.CollectAndCompare(NewCollector(links), strings.NewReader(string(golden)), names...); err != nil {
		t.Error(err)
	}
	// Every described metric is collected, and nothing undescribed.
	// tap1: every metric and the histogram; tap2 has no RTT (3 series), no
	// loss window and no reply age (5 left out); plus the scrape duration.
	if n, want := testutil.CollectAndCount(NewCollector(links)), (len(metrics)+1)+(len(metrics)-5+1)+1; n != want {
		t.Errorf("%d series collected, want %d", n, want)
	}
}
