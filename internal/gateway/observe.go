package gateway

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/failover"
	"github.com/multilink/multilink/internal/probe"
)

// Links lists every probed link's figures (GET /v1/client/links).
func (g *Gateway) Links() []api.LinkStats { return g.dp.Links() }

// Policy is a bond's failover state and policy (GET /v1/client/policy).
func (g *Gateway) Policy(ctx context.Context, bond string) (api.PolicyStatus, error) {
	return g.dp.Policy(ctx, bond)
}

// SetPolicy changes a bond's failover policy, pin or priority, and the
// probe intervals (PUT /v1/client/policy).
func (g *Gateway) SetPolicy(ctx context.Context, bond string, body []byte) (api.PolicyStatus, error) {
	return g.dp.SetPolicy(ctx, bond, body)
}

// Events lists the latest switches and link state changes of a bond ("":
// all), oldest first.
func (g *Gateway) Events(bond string, limit int) []api.Event { return g.dp.Events(bond, limit) }

// WatchEvents implements restapi.Failover.
func (g *Gateway) WatchEvents(ctx context.Context, bond string, limit int) ([]api.Event, <-chan api.Event, func() bool) {
	return g.dp.WatchEvents(ctx, bond, limit)
}

// Collectors are the gateway's metrics: the probe's per link, the failover
// engines' per bond, and which driver runs each bond.
func (g *Gateway) Collectors() []prometheus.Collector {
	return Collectors(g.dp.monitor, g.dp.brain, g)
}

// BondLister lists the gateway's bonds; *Gateway is one.
type BondLister interface {
	Status(ctx context.Context) []api.ClientStatus
}

// Collectors are the gateway's metrics over links, brain and bonds;
// checks that must agree with /metrics (the Grafana dashboard's) build
// them over fakes.
func Collectors(links probe.Source, brain *failover.Manager, bonds BondLister) []prometheus.Collector {
	return []prometheus.Collector{probe.NewCollector(links), failover.NewCollector(brain), bondCollector{bonds}}
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
