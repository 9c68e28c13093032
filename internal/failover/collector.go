package failover

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/multilink/multilink/api"
)

// Collector exports the failover state: switches by reason, the active
// link, the preferred link and each link's state, read at scrape time.
type Collector struct {
	statuses                            func() []api.FailoverStatus
	failovers, active, preferred, state *prometheus.Desc
}

// NewCollector returns a Collector over m.
func NewCollector(m *Manager) *Collector { return newCollector(m.Statuses) }

func newCollector(statuses func() []api.FailoverStatus) *Collector {
	return &Collector{
		statuses: statuses,
		failovers: prometheus.NewDesc("multilink_failovers_total",
			"Switches of a bond's active link, by reason (down, degraded_rtt, degraded_loss, failback, manual, kernel, start).",
			[]string{"bond", "reason"}, nil),
		active: prometheus.NewDesc("multilink_active_link", "1 for the link the bond uses, 0 for the others.",
			[]string{"bond", "link"}, nil),
		preferred: prometheus.NewDesc("multilink_link_preferred",
			"1 for the link the bond uses when every link is up (the pinned link, else the first in priority), 0 for the others: "+
				"an active link that is not the preferred one is a backup.",
			[]string{"bond", "link"}, nil),
		state: prometheus.NewDesc("multilink_link_state", "1 for the link's current state (unknown, up, degraded, down), 0 for the others.",
			[]string{"bond", "link", "state"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.failovers
	ch <- c.active
	ch <- c.preferred
	ch <- c.state
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.statuses() {
		preferred := st.Pin
		if preferred == "" && len(st.Priority) > 0 {
			preferred = st.Priority[0]
		}
		for _, r := range Reasons() {
			ch <- prometheus.MustNewConstMetric(c.failovers, prometheus.CounterValue, float64(st.Failovers[r]), st.Bond, r)
		}
		for _, l := range st.Links {
			ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, b2f(l.Link == st.Active), st.Bond, l.Link)
			ch <- prometheus.MustNewConstMetric(c.preferred, prometheus.GaugeValue, b2f(l.Link == preferred), st.Bond, l.Link)
			for _, s := range States() {
				ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, b2f(l.State == s), st.Bond, l.Link, string(s))
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
