package probe

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/multilink/multilink/api"
)

// Source is what the collector reads: Monitor has it.
type Source interface {
	Links() []LinkStats
}

// Collector exports every probed link's figures to Prometheus, read at
// scrape time (the kernel maps and the trackers), labelled by bond and link
// only. It also reports its own scrape duration.
type Collector struct {
	src  Source
	desc map[string]*prometheus.Desc
}

var linkLabels = []string{"bond", "link"}

// metric describes one exported series.
type metric struct {
	name, help string
	kind       prometheus.ValueType
	value      func(s LinkStats) (float64, bool) // false: leave the series out
}

func counter(f func(c api.LinkCounters) uint64) func(LinkStats) (float64, bool) {
	return func(s LinkStats) (float64, bool) { return float64(f(s.Counters)), true }
}

func seconds(f func(s LinkStats) time.Duration, ok func(s LinkStats) bool) func(LinkStats) (float64, bool) {
	return func(s LinkStats) (float64, bool) { return f(s).Seconds(), ok(s) }
}

func hasRTT(s LinkStats) bool { return s.HasRTT }

// metrics are the per-link series besides the histogram.
var metrics = []metric{
	{"multilink_link_arp_requests_total", "ARP requests for the probe target that left the link (the daemon's probes and the bond's own).", prometheus.CounterValue, counter(func(c api.LinkCounters) uint64 { return c.ArpRequests })},
	{"multilink_link_arp_replies_total", "ARP replies from the probe target that arrived on the link.", prometheus.CounterValue, counter(func(c api.LinkCounters) uint64 { return c.ArpReplies })},
	{"multilink_link_probes_sent_total", "ARP probes the daemon sent on the link.", prometheus.CounterValue, counter(func(c api.LinkCounters) uint64 { return c.ProbesSent })},
	{"multilink_link_probe_replies_total", "Replies to the daemon's ARP probes, each timed.", prometheus.CounterValue, counter(func(c api.LinkCounters) uint64 { return c.ProbeReplies })},
	{"multilink_link_rx_frames_total", "Frames received on the link (from the hub).", prometheus.CounterValue, counter(func(c api.LinkCounters) uint64 { return c.RxFrames })},
	{"multilink_link_rx_bytes_total", "Bytes received on the link.", prometheus.CounterValue, counter(func(c api.LinkCounters) uint64 { return c.RxBytes })},
	{"multilink_link_tx_frames_total", "Frames sent on the link (to the hub).", prometheus.CounterValue, counter(func(c api.LinkCounters) uint64 { return c.TxFrames })},
	{"multilink_link_tx_bytes_total", "Bytes sent on the link.", prometheus.CounterValue, counter(func(c api.LinkCounters) uint64 { return c.TxBytes })},
	{"multilink_link_malformed_frames_total", "Runt frames and truncated or non-Ethernet/IPv4 ARP packets seen on the link.", prometheus.CounterValue, counter(func(c api.LinkCounters) uint64 { return c.Malformed })},
	{"multilink_link_vlan_frames_total", "VLAN-tagged frames seen on the link (counted, not parsed).", prometheus.CounterValue, counter(func(c api.LinkCounters) uint64 { return c.VLAN })},
	{"multilink_link_last_reply_age_seconds", "Time since the last ARP reply from the probe target (absent before the first).", prometheus.GaugeValue,
		seconds(func(s LinkStats) time.Duration { return s.LastReplyAge }, func(s LinkStats) bool { return s.LastReplyAge >= 0 })},
	{"multilink_link_rtt_smoothed_seconds", "Smoothed probe RTT (RFC 6298 SRTT).", prometheus.GaugeValue, seconds(func(s LinkStats) time.Duration { return s.RTTSmoothed }, hasRTT)},
	{"multilink_link_rtt_variance_seconds", "Probe RTT mean deviation (RFC 6298 RTTVAR).", prometheus.GaugeValue, seconds(func(s LinkStats) time.Duration { return s.RTTVar }, hasRTT)},
	{"multilink_link_jitter_seconds", "Probe RTT jitter (RFC 3550).", prometheus.GaugeValue, seconds(func(s LinkStats) time.Duration { return s.Jitter }, hasRTT)},
	{"multilink_link_loss_ratio", "Share of the last decided probes (at most 50, within 10 s) that got no reply.", prometheus.GaugeValue,
		func(s LinkStats) (float64, bool) { return s.Loss, s.Decided > 0 }},
	{"multilink_link_probe_interval_seconds", "The link's current probe interval (fast on the active link).", prometheus.GaugeValue,
		func(s LinkStats) (float64, bool) { return s.Interval.Seconds(), true }},
}

const (
	rttHistogram   = "multilink_link_rtt_seconds"
	scrapeDuration = "multilink_probe_scrape_duration_seconds"
)

// NewCollector returns a Collector over src.
func NewCollector(src Source) *Collector {
	c := &Collector{src: src, desc: map[string]*prometheus.Desc{}}
	for _, m := range metrics {
		c.desc[m.name] = prometheus.NewDesc(m.name, m.help, linkLabels, nil)
	}
	c.desc[rttHistogram] = prometheus.NewDesc(rttHistogram, "ARP probe round-trip time, measured in the kernel (log2 buckets).", linkLabels, nil)
	c.desc[scrapeDuration] = prometheus.NewDesc(scrapeDuration, "Time the probe collector took to read the kernel maps.", nil, nil)
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.desc {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	for _, s := range c.src.Links() {
		for _, m := range metrics {
			if v, ok := m.value(s); ok {
				ch <- prometheus.MustNewConstMetric(c.desc[m.name], m.kind, v, s.Bond, s.Link)
			}
		}
		ch <- histogram(c.desc[rttHistogram], s)
	}
	ch <- prometheus.MustNewConstMetric(c.desc[scrapeDuration], prometheus.GaugeValue, time.Since(start).Seconds())
}

// histogram converts the kernel's buckets into a cumulative one.
func histogram(d *prometheus.Desc, s LinkStats) prometheus.Metric {
	bounds := map[float64]uint64{}
	var total uint64
	for _, b := range s.Histogram {
		total += b.Count
		if b.UpperBound > 0 {
			bounds[b.UpperBound.Seconds()] = total
		}
	}
	return prometheus.MustNewConstHistogram(d, total, s.RTTSum.Seconds(), bounds, s.Bond, s.Link)
}
