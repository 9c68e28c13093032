package daemon

import (
	"fmt"
	"net/http"

	"github.com/multilink/multilink/internal/buildinfo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Collectors are the daemon's metrics: the roles' (gateway.Collectors,
// the hub's Collector, PendingCollector), the build, and the Go and
// process collectors.
func Collectors(roles []prometheus.Collector, build buildinfo.Info) []prometheus.Collector {
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "multilink_build_info", Help: "1, labelled with the daemon's version, commit and Go version.",
		ConstLabels: prometheus.Labels{"version": build.Version, "commit": build.Commit, "goversion": build.GoVersion}})
	info.Set(1)
	return append([]prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		info,
	}, roles...)
}

// NewRegistry is a registry of Collectors.
func NewRegistry(roles []prometheus.Collector, build buildinfo.Info) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	for _, c := range Collectors(roles, build) {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return reg, nil
}

// metricsHandler serves a registry.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
