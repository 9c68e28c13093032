package daemon

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/failover"
	"github.com/multilink/multilink/internal/probe"
)

// BondLister lists the gateway's bonds; *gateway.Gateway is one.
type BondLister interface {
	Status(ctx context.Context) []api.ClientStatus
}

// Collectors are the daemon's metrics: the probe's collector over links,
// the failover engine's over brain, each bond's driver from bonds, the
// build, and the Go and process collectors. Checks that must agree with
// /metrics (the Grafana dashboard's) build them over fakes.
func Collectors(links probe.Source, brain *failover.Manager, bonds BondLister, version string) []prometheus.Collector {
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "multilink_build_info", Help: "1, labelled with the daemon's version.",
		ConstLabels: prometheus.Labels{"version": version}})
	build.Set(1)
	return []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build,
		probe.NewCollector(links),
		failover.NewCollector(brain),
		bondCollector{bonds},
	}
}

// NewRegistry is a registry of Collectors.
func NewRegistry(links probe.Source, brain *failover.Manager, bonds BondLister, version string) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	for _, c := range Collectors(links, brain, bonds, version) {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return reg, nil
}

// metricsHandler serves the daemon's registry.
func metricsHandler(stack *clientStack, gw BondLister, version string) (http.Handler, error) {
	reg, err := NewRegistry(stack.monitor, stack.brain, gw, version)
	if err != nil {
		return nil, err
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}), nil
}

// bondCollector exports which driver runs each gateway bond.
type bondCollector struct{ gw BondLister }

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
