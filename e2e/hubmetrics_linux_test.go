package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/nstest"
)

// TestHubMetrics: a hub's /metrics shows its own view of its links with a
// gateway on them (its TAPs' kernel counters, its tunnels, its claims):
// both tunnels up, frames from the gateway on both TAPs, the bridge held
// by the gateway's bond, no pending start. Once link 1's underlay is cut
// at the hub, tap1's peer is no longer seen while tap2's, now active,
// keeps being seen.
func TestHubMetrics(t *testing.T) {
	nstest.OneLabKernel(t)    // a TAP's counters: one older kernel beside the host's is enough
	drivers := splitDrivers() // the hub's metrics do not depend on the bond driver: one is enough
	driver := drivers[len(drivers)-1]
	tp := newTopology(t)
	hub, gw := scenario(t, tp, specClientBody(t), driver)
	waitActive(t, gw, "tap1", 30*time.Second)

	m := scrape(t, hub)
	for _, want := range []string{
		`multilink_hub_bridge_info{bridge="br0",tunnel_mode="tls"} 1`,
		`multilink_hub_bridge_holder_info{bond="bond0",bridge="br0",gateway_id="`,
		`multilink_hub_link_up{bridge="br0",link="tap1"} 1`,
		`multilink_hub_link_up{bridge="br0",link="tap2"} 1`,
		`multilink_hub_link_openvpn_restarts_total{bridge="br0",link="tap1"} `,
		`multilink_pending_starts{role="server"} 0`,
		`multilink_pending_starts{role="client"} 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("the hub's /metrics lacks %s", want)
		}
	}
	series := func(name, link string) string { return name + `{bridge="br0",link="` + link + `"}` }
	// The gateway's probes reach the hub on both links (5 s apart on the
	// standby one).
	if !waitFor(t, 20*time.Second, 500*time.Millisecond, func() bool {
		m = scrape(t, hub)
		return metricValue(t, m, series("multilink_hub_link_rx_frames_total", "tap1")) > 0 &&
			metricValue(t, m, series("multilink_hub_link_rx_frames_total", "tap2")) > 0 &&
			metricValue(t, m, series("multilink_hub_link_rx_bytes_total", "tap2")) > 0
	}) {
		t.Fatalf("no frames from the gateway on both hub TAPs within 20 s:\n%s", grepLines(m, "multilink_hub_link_rx_"))
	}

	setLink(t, tp.hub, "u1", false)
	waitActive(t, gw, "tap2", 30*time.Second)
	lastSeen := func(m, link string) float64 {
		return metricValue(t, m, series("multilink_hub_link_peer_last_seen_timestamp_seconds", link))
	}
	// A look at the TAPs may still find frames that came in before the
	// cut: tap1's last seen is at most this scrape's time.
	before := scrape(t, hub)
	beforeAt := time.Now()
	var after string
	if !waitFor(t, 20*time.Second, 500*time.Millisecond, func() bool {
		after = scrape(t, hub)
		return lastSeen(after, "tap2") > lastSeen(before, "tap2") && time.Since(beforeAt) > 2*time.Second
	}) {
		t.Fatalf("tap2's peer, active, not seen again within 20 s:\n%s", grepLines(after, "peer_last_seen"))
	}
	if a, b := lastSeen(after, "tap1"), lastSeen(before, "tap1"); a != b {
		t.Errorf("tap1's peer, cut off, last seen %v, then %v: want no change", b, a)
	}
	now := float64(time.Now().UnixNano()) / 1e9
	if silent, least := now-lastSeen(after, "tap1"), time.Since(beforeAt).Seconds(); silent < least {
		t.Errorf("tap1's peer, cut off, silent %.1f s by the metric, want at least the %.1f s since the scrape after the cut", silent, least)
	}
	if silent := now - lastSeen(after, "tap2"); silent > 2 {
		t.Errorf("tap2's peer, active (20 ms probes), silent %.1f s by the metric", silent)
	}
}

// grepLines are the lines of text that contain substr.
func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
