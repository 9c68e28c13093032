package daemon

import "github.com/prometheus/client_golang/prometheus"

// PendingCounter counts the desired servers and clients that do not run
// yet (their start is retried); *roles is one.
type PendingCounter interface {
	PendingCount() (servers, clients int)
}

var pendingStarts = prometheus.NewDesc("multilink_pending_starts",
	"Desired servers (role server) and clients (role client) whose start failed and is retried.", []string{"role"}, nil)

// PendingCollector exports the pending starts of both roles, 0 included.
func PendingCollector(p PendingCounter) prometheus.Collector { return pendingCollector{p} }

type pendingCollector struct{ p PendingCounter }

func (pendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- pendingStarts }

func (c pendingCollector) Collect(ch chan<- prometheus.Metric) {
	servers, clients := c.p.PendingCount()
	ch <- prometheus.MustNewConstMetric(pendingStarts, prometheus.GaugeValue, float64(servers), "server")
	ch <- prometheus.MustNewConstMetric(pendingStarts, prometheus.GaugeValue, float64(clients), "client")
}

// PendingCount implements PendingCounter.
func (r *roles) PendingCount() (servers, clients int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.pending {
		if p.server != nil {
			servers++
		} else {
			clients++
		}
	}
	return servers, clients
}
