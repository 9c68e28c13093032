package hub

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vishvananda/netlink"

	"github.com/multilink/multilink/internal/testsupport"
	"github.com/multilink/multilink/internal/tunnel"
)

// TestCollector: the hub's metrics over the fake host, through a claim,
// traffic on one link, an openvpn restart and a link whose tunnel ends.
func TestCollector(t *testing.T) {
	start := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	c := &clock{t: start}
	n := testsupport.NewFakeNetlink()
	tun := &fakeTunnels{net: n, running: map[string]tunnel.Spec{}, restarts: map[string]int{}}
	h := New(Options{Netlink: n, Tunnels: tun, KeyDir: t.TempDir(), Now: c.now, Identity: testIdentity(t)})
	ctx := context.Background()
	if _, err := h.Start(ctx, staticServer(t)); err != nil {
		t.Fatal(err)
	}
	stats := func(tap string, st netlink.LinkStatistics) {
		l, err := n.LinkByName(tap)
		if err != nil {
			t.Fatal(err)
		}
		l.Attrs().Statistics = &st
	}
	names := []string{"multilink_hub_bridge_info", "multilink_hub_bridge_holder_info", "multilink_hub_link_up",
		"multilink_hub_link_openvpn_restarts_total", "multilink_hub_link_peer_last_seen_timestamp_seconds",
		"multilink_hub_link_rx_bytes_total", "multilink_hub_link_rx_frames_total", "multilink_hub_link_tx_frames_total"}
	check := func(what, want string) {
		t.Helper()
		if err := testutil.CollectAndCompare(h.Collector(), strings.NewReader(want), names...); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	help := `# HELP multilink_hub_bridge_info 1 for each bridge the hub serves, labelled with its tunnel mode (tls or static).
# TYPE multilink_hub_bridge_info gauge
multilink_hub_bridge_info{bridge="br0",tunnel_mode="static"} 1
# HELP multilink_hub_link_up 1 when the link's OpenVPN runs and its TAP is up (not taken down through the API), else 0.
# TYPE multilink_hub_link_up gauge
multilink_hub_link_up{bridge="br0",link="tap1"} %d
multilink_hub_link_up{bridge="br0",link="tap2"} 1
# HELP multilink_hub_link_openvpn_restarts_total Times the link's OpenVPN was restarted after it ended.
# TYPE multilink_hub_link_openvpn_restarts_total counter
multilink_hub_link_openvpn_restarts_total{bridge="br0",link="tap1"} 0
multilink_hub_link_openvpn_restarts_total{bridge="br0",link="tap2"} %d
# HELP multilink_hub_link_peer_last_seen_timestamp_seconds Unix time the TAP last received a frame from its peer, as the hub's own TAP counters tell (read at each scrape and claim check: late by at most that interval); the link's start while nothing came in since.
# TYPE multilink_hub_link_peer_last_seen_timestamp_seconds gauge
multilink_hub_link_peer_last_seen_timestamp_seconds{bridge="br0",link="tap1"} %d
multilink_hub_link_peer_last_seen_timestamp_seconds{bridge="br0",link="tap2"} %d
`
	counters := `# HELP multilink_hub_link_rx_bytes_total Bytes the TAP received from the peer (kernel counters; from 0 when openvpn makes the TAP anew).
# TYPE multilink_hub_link_rx_bytes_total counter
# HELP multilink_hub_link_rx_frames_total Frames the TAP received from the peer (kernel counters; from 0 when openvpn makes the TAP anew).
# TYPE multilink_hub_link_rx_frames_total counter
# HELP multilink_hub_link_tx_frames_total Frames the TAP sent to the peer (kernel counters; from 0 when openvpn makes the TAP anew).
# TYPE multilink_hub_link_tx_frames_total counter
`
	s0 := start.Unix()
	// Just started, the fake TAPs without counters: no counter series,
	// both peers unheard since the start.
	check("started", sprintf(help, 1, 0, s0, s0)+counters)

	// A minute on: tap2 received 5 frames, tap1 nothing; a claim.
	c.t = start.Add(time.Minute)
	stats("tap1", netlink.LinkStatistics{})
	stats("tap2", netlink.LinkStatistics{RxPackets: 5, RxBytes: 500, TxPackets: 7})
	if _, err := h.Claim(ctx, claim("gw-one-0001", "bond0")); err != nil {
		t.Fatal(err)
	}
	withCounters := func(rx2, rxb2, tx2 uint64) string {
		return sprintf(`# HELP multilink_hub_bridge_holder_info 1 for each held bridge, labelled with the gateway and bond that hold it.
# TYPE multilink_hub_bridge_holder_info gauge
multilink_hub_bridge_holder_info{bond="bond0",bridge="br0",gateway_id="gw-one-0001"} 1
`+counters[:strings.Index(counters, "# HELP multilink_hub_link_rx_frames")]+`multilink_hub_link_rx_bytes_total{bridge="br0",link="tap1"} 0
multilink_hub_link_rx_bytes_total{bridge="br0",link="tap2"} %d
`+counters[strings.Index(counters, "# HELP multilink_hub_link_rx_frames"):strings.Index(counters, "# HELP multilink_hub_link_tx_frames")]+`multilink_hub_link_rx_frames_total{bridge="br0",link="tap1"} 0
multilink_hub_link_rx_frames_total{bridge="br0",link="tap2"} %d
`+counters[strings.Index(counters, "# HELP multilink_hub_link_tx_frames"):]+`multilink_hub_link_tx_frames_total{bridge="br0",link="tap1"} 0
multilink_hub_link_tx_frames_total{bridge="br0",link="tap2"} %d
`, rxb2, rx2, tx2)
	}
	s1 := start.Add(time.Minute).Unix()
	check("traffic on tap2", sprintf(help, 1, 0, s0, s1)+withCounters(5, 500, 7))

	// Five minutes on, tap2's counter has not moved: last seen stays.
	// Its openvpn was restarted twice, tap1's tunnel ended.
	c.t = start.Add(6 * time.Minute)
	tun.restarts["tap2"] = 2
	tun.mu.Lock()
	delete(tun.running, "tap1")
	tun.mu.Unlock()
	check("silent, restarted, ended", sprintf(help, 0, 2, s0, s1)+withCounters(5, 500, 7))

	// openvpn made tap2 anew: its counter is lower but not 0, frames came in.
	c.t = start.Add(7 * time.Minute)
	stats("tap2", netlink.LinkStatistics{RxPackets: 2, RxBytes: 100, TxPackets: 1})
	s7 := c.t.Unix()
	check("TAP made anew", sprintf(help, 0, 2, s0, s7)+withCounters(2, 100, 1))
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
