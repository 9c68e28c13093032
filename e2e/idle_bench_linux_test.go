package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/demo"
	"github.com/multilink/multilink/internal/topology"
	"github.com/vishvananda/netns"
)

// idleCuts is how many cuts during idle each setting takes.
const idleCuts = 10

// BenchmarkIdle prices an idle gateway (no user traffic) and what the
// idle interval costs when traffic comes back to a link that died while
// idle, with the probe's idle interval (the default, 500 ms) and without
// it (idle_interval_ms 0: 20 ms probes all the time, the baseline), in
// the same run, on the eBPF bond:
//
//	go test -v -run '^$' -bench Idle -benchtime 1x -timeout 20m ./e2e
//
// Per setting: the underlay bytes per second of the active and the
// standby link and the gateway daemon's CPU, idle over 10 s; then ten
// times: the primary is cut while idle, traffic starts 0.2-1.2 s later (a
// 10 ms echo each way) and the first echo's delay and the echoes lost are
// what the first packets pay.
func BenchmarkIdle(b *testing.B) {
	tp, links, kind := newBenchTopology(b)
	b.Logf("BENCH idle underlays: %s", kind)
	v := variant{name: "multilink-ebpf", driver: "ebpf"}
	requireDriver(b, tp, v.driver)
	_, gw := scenarioWith(b, tp, specServerBody(b), specClientBody(b), v.driver)
	for _, c := range []struct {
		name   string
		idleMs int
	}{{"idle-500ms", 500}, {"no-idle", 0}} {
		if code := gw.call(http.MethodPut, "/v1/client/policy/bond0", fmt.Appendf(nil, `{"idle_interval_ms": %d}`, c.idleMs), nil); code != http.StatusOK {
			b.Fatalf("PUT idle_interval_ms %d: %d", c.idleMs, code)
		}
		cv := v
		cv.name = "multilink-ebpf " + c.name
		waitSettled(b, gw) // both links up, tap1 active: the standby at its own rate
		benchProbeCost(b, tp, gw, cv)
		benchIdleCuts(b, tp, links[0], gw, cv.name)
	}
}

// benchIdleCuts cuts the primary while nothing flows, starts traffic a
// while later, and reports what its first packets pay: the delay to the
// first echo each way and the echoes lost.
func benchIdleCuts(b *testing.B, tp *testbed, primary underlay, gw *daemon, name string) {
	var firstUp, firstDown, lostUp, lostDown []float64
	for range idleCuts {
		waitActive(b, gw, "tap1", 30*time.Second)
		time.Sleep(2 * time.Second) // idle for longer than probe.IdleAfter
		must(b, primary.Cut(true))
		time.Sleep(200*time.Millisecond + rand.N(time.Second))
		ctx, cancel := context.WithCancel(context.Background())
		up := runEcho(b, ctx, tp.gw, topology.HubTunnel)
		down := runEcho(b, ctx, tp.hub, topology.GwTunnel)
		start := time.Now()
		waitFlowingAfter(b, up, start)
		waitFlowingAfter(b, down, start)
		time.Sleep(time.Second)
		cancel()
		end := time.Now().Add(-500 * time.Millisecond)
		firstUp = append(firstUp, ms(up.FirstAfter(start).Sub(start)))
		firstDown = append(firstDown, ms(down.FirstAfter(start).Sub(start)))
		lu, _ := up.Lost(start, end)
		ld, _ := down.Lost(start, end)
		lostUp, lostDown = append(lostUp, float64(lu)), append(lostDown, float64(ld))
		must(b, primary.Cut(false))
	}
	b.Logf("BENCH %s cut while idle, then traffic: first echo gw->hub after_ms=%v median=%.0f lost=%v | hub->gw after_ms=%v median=%.0f lost=%v",
		name, sorted(firstUp), median(firstUp), sorted(lostUp), sorted(firstDown), median(firstDown), sorted(lostDown))
	b.ReportMetric(median(firstUp), "ms-first-gw-hub")
	b.ReportMetric(median(firstDown), "ms-first-hub-gw")
}

// runEcho starts a 10 ms echo from ns to dst until ctx ends.
func runEcho(t testing.TB, ctx context.Context, ns interface{ Fd() int }, dst string) *demo.Prober {
	t.Helper()
	p, err := demo.NewProber(netns.NsHandle(ns.Fd()), netip.MustParseAddr(dst), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	go p.Run(ctx)
	return p
}
