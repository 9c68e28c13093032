package hub

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// linkLabels name one link of one bridge: the bridge and the TAP.
var linkLabels = []string{"bridge", "link"}

var (
	hubBridgeInfo = prometheus.NewDesc("multilink_hub_bridge_info",
		"1 for each bridge the hub serves, labelled with its tunnel mode (tls or static).", []string{"bridge", "tunnel_mode"}, nil)
	hubHolderInfo = prometheus.NewDesc("multilink_hub_bridge_holder_info",
		"1 for each held bridge, labelled with the gateway and bond that hold it.", []string{"bridge", "gateway_id", "bond"}, nil)
	hubLinkUp = prometheus.NewDesc("multilink_hub_link_up",
		"1 when the link's OpenVPN runs and its TAP is up (not taken down through the API), else 0.", linkLabels, nil)
	hubRestarts = prometheus.NewDesc("multilink_hub_link_openvpn_restarts_total",
		"Times the link's OpenVPN was restarted after it ended.", linkLabels, nil)
	hubPeerSeen = prometheus.NewDesc("multilink_hub_link_peer_last_seen_timestamp_seconds",
		"Unix time the TAP last received a frame from its peer, as the hub's own TAP counters tell (read at each scrape "+
			"and claim check: late by at most that interval); the link's start while nothing came in since.", linkLabels, nil)
	hubRxBytes = prometheus.NewDesc("multilink_hub_link_rx_bytes_total",
		"Bytes the TAP received from the peer (kernel counters; from 0 when openvpn makes the TAP anew).", linkLabels, nil)
	hubTxBytes = prometheus.NewDesc("multilink_hub_link_tx_bytes_total",
		"Bytes the TAP sent to the peer (kernel counters; from 0 when openvpn makes the TAP anew).", linkLabels, nil)
	hubRxFrames = prometheus.NewDesc("multilink_hub_link_rx_frames_total",
		"Frames the TAP received from the peer (kernel counters; from 0 when openvpn makes the TAP anew).", linkLabels, nil)
	hubTxFrames = prometheus.NewDesc("multilink_hub_link_tx_frames_total",
		"Frames the TAP sent to the peer (kernel counters; from 0 when openvpn makes the TAP anew).", linkLabels, nil)
)

// Collector is the hub's metrics: per bridge its tunnel mode and holder,
// per link (TAP) its tunnel's state and restarts, when its peer was last
// heard and the TAP's kernel counters. All are read at scrape time.
func (h *Hub) Collector() prometheus.Collector { return collector{h} }

type collector struct{ h *Hub }

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{hubBridgeInfo, hubHolderInfo, hubLinkUp, hubRestarts, hubPeerSeen,
		hubRxBytes, hubTxBytes, hubRxFrames, hubTxFrames} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.servers))
	for n := range h.servers {
		names = append(names, n)
	}
	sort.Strings(names)
	now := h.now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, name := range names {
		s := h.servers[name]
		gauge(hubBridgeInfo, 1, name, s.cfg.TunnelMode)
		if s.holder != nil {
			gauge(hubHolderInfo, 1, name, s.holder.GatewayID, s.holder.Bond)
		}
		for _, tap := range s.cfg.Taps() {
			up, restarts := 0.0, 0
			if ts, ok := h.opts.Tunnels.Status(tap); ok {
				if ts.Running && ts.AdminUp {
					up = 1
				}
				restarts = ts.Restarts
			}
			gauge(hubLinkUp, up, name, tap)
			counter(hubRestarts, uint64(restarts), name, tap)
			seen := s.startedAt
			if l, err := h.opts.Netlink.LinkByName(tap); err == nil && l.Attrs().Statistics != nil {
				st := l.Attrs().Statistics
				seen = s.notePeer(tap, st.RxPackets, now)
				counter(hubRxBytes, st.RxBytes, name, tap)
				counter(hubTxBytes, st.TxBytes, name, tap)
				counter(hubRxFrames, st.RxPackets, name, tap)
				counter(hubTxFrames, st.TxPackets, name, tap)
			} else if p, ok := s.peers[tap]; ok {
				seen = p.at // the TAP is away (openvpn restarting): what was seen stays
			}
			gauge(hubPeerSeen, float64(seen.UnixNano())/1e9, name, tap)
		}
	}
}
