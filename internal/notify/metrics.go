package notify

import "github.com/prometheus/client_golang/prometheus"

// Delivery results, the values of the result label.
const (
	ResultOK      = "ok"      // an attempt succeeded
	ResultFailed  = "failed"  // every attempt failed
	ResultDropped = "dropped" // never attempted to the end: a full queue, or shutdown
)

// metrics are the notifier's Prometheus metrics, labelled by hook name.
type metrics struct {
	deliveries *prometheus.CounterVec
	retries    *prometheus.CounterVec
	queued     *prometheus.GaugeVec
	inFlight   *prometheus.GaugeVec
}

func newMetrics() *metrics {
	return &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "multilink_hook_deliveries_total",
			Help: "Events handed to each hook, by result: ok, failed (every attempt failed), dropped (a full queue, or shutdown)."}, []string{"hook", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "multilink_hook_retries_total",
			Help: "Attempts of each hook that failed and were tried again."}, []string{"hook"}),
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "multilink_hook_queue_length",
			Help: "Events waiting for each hook."}, []string{"hook"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "multilink_hook_in_flight",
			Help: "1 while a hook's delivery (attempts and the waits between them) runs."}, []string{"hook"}),
	}
}

// init exports every series of hook at zero, so that a rate or an alert
// sees the hook before its first event.
func (m *metrics) init(hook string) {
	for _, r := range []string{ResultOK, ResultFailed, ResultDropped} {
		m.deliveries.WithLabelValues(hook, r)
	}
	m.retries.WithLabelValues(hook)
	m.queued.WithLabelValues(hook)
	m.inFlight.WithLabelValues(hook)
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.deliveries, m.retries, m.queued, m.inFlight}
}
