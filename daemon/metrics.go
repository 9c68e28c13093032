package daemon

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/multilink/multilink/failover"
	"github.com/multilink/multilink/gateway"
	"github.com/multilink/multilink/probe"
)

// metricsHandler serves the daemon's own registry: the probe's and the
// failover engine's collectors, each bond's driver, the build, and the Go
// and process collectors.
func metricsHandler(stack *clientStack, gw bondLister, version string) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "multilink_build_info", Help: "1, labelled with the daemon's version.",
		ConstLabels: prometheus.Labels{"version": version}})
	build.Set(1)
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build,
		probe.NewCollector(stack.monitor),
		failover.NewCollector(stack.brain),
		bondCollector{gw},
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}), nil
}

// bondLister lists the gateway's bonds.
type bondLister interface {
	Status(ctx context.Context) []gateway.Status
}

// bondCollector exports which driver runs each gateway bond.
type bondCollector struct{ gw bondLister }

var bondInfo = prometheus.NewDesc("multilink_bond_info",
	"1 for each gateway bond, labelled with the driver that runs it (kernel or ebpf).", []string{"bond", "driver"}, nil)

func (bondCollector) Describe(ch chan<- *prometheus.Desc) { ch <- bondInfo }

func (b bondCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range b.gw.Status(context.Background()) {
		if s.Driver == "" {
			continue // pending: its start failed and is retried, no bond yet
		}
		ch <- prometheus.MustNewConstMetric(bondInfo, prometheus.GaugeValue, 1, s.Bond, s.Driver)
	}
}
