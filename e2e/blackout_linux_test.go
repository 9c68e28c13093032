package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// Blackout benchmark settings: a 10 ms probe stream, five cuts per setting.
const (
	probeInterval = 10 * time.Millisecond
	cuts          = 5
)

// BenchmarkKernelBondBlackout measures the plain kernel bond's blackout when
// the primary underlay is cut (hub-side link down), with the spec's
// settings at arp_interval 100 ms and 50 ms: the gap between the last echo
// reply before the cut and the first after it, in a 10 ms probe stream over
// the bond. It runs in the kernel lab:
//
//	go run ./cmd/multilink-lab --packages ./e2e --run '^$' --bench KernelBondBlackout
//
// Metrics: median, min and max blackout per arp_interval, in ms.
func BenchmarkKernelBondBlackout(b *testing.B) {
	tp := newTopology(b)
	_, gw := scenario(b, tp, specClientBody(b), "kernel", "--no-failover")
	p, err := newProber(tp.gw, "10.8.0.254", probeInterval)
	if err != nil {
		b.Fatalf("prober: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.run(ctx)

	for _, arp := range []int{100, 50} {
		body := fmt.Sprintf(`{"arp_interval": "%d"}`, arp)
		if code := gw.call(http.MethodPut, "/v1/client/bond_params/bond0", []byte(body), nil); code != http.StatusOK {
			b.Fatalf("PUT arp_interval %d: %d", arp, code)
		}
		var ms []float64
		for i := 0; i < cuts; i++ {
			waitFlowing(b, p)
			cut := time.Now()
			setLink(b, tp.hub, "u1", false)
			waitActive(b, gw, "tap2", 30*time.Second)
			waitFlowingAfter(b, p, cut)
			gap := p.gapAround(cut.Add(-time.Second), time.Now())
			ms = append(ms, float64(gap.Microseconds())/1000)
			setLink(b, tp.hub, "u1", true)
			waitActive(b, gw, "tap1", 30*time.Second)
			time.Sleep(time.Second) // let the restored link settle before the next cut
		}
		slices.Sort(ms)
		b.Logf("BENCH kernel-bond arp_interval=%dms blackouts_ms=%v median=%.0f min=%.0f max=%.0f", arp, ms, ms[len(ms)/2], ms[0], ms[len(ms)-1])
		b.ReportMetric(ms[len(ms)/2], fmt.Sprintf("ms-median-arp%d", arp))
		b.ReportMetric(ms[0], fmt.Sprintf("ms-min-arp%d", arp))
		b.ReportMetric(ms[len(ms)-1], fmt.Sprintf("ms-max-arp%d", arp))
	}
}

// waitFlowing waits (bounded) until replies arrive steadily.
func waitFlowing(t testing.TB, p *prober) {
	t.Helper()
	waitFlowingAfter(t, p, time.Now())
}

// waitFlowingAfter waits (bounded) until replies arrive again after since.
func waitFlowingAfter(t testing.TB, p *prober, since time.Time) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if last := p.lastReply(); last.After(since) && time.Since(last) < 5*probeInterval {
			time.Sleep(5 * probeInterval)
			return
		}
		time.Sleep(probeInterval)
	}
	t.Fatalf("no echo replies for 30s after %s", since.Format(time.RFC3339Nano))
}
