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

// metricsSlots is how many scrapes of /metrics are served at once; more
// wait their turn (never refused: a scraper must get its answer). A scrape
// allocates about 200 KB to gather and holds a gzip writer (about 800 KB)
// while it encodes, so scrapers served side by side multiplied the
// daemon's heap, and its resident memory, for no more answers a second:
// gathering is CPU work the daemon's few cores do one at a time anyway.
const metricsSlots = 1

// metricsHandler serves a registry, metricsSlots scrapes at a time.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	return queued(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}), metricsSlots)
}

// queued serves h to n requests at a time; the others wait for a turn
// until their client leaves.
func queued(h http.Handler, n int) http.Handler {
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
		case <-r.Context().Done():
			return // the client left: nobody reads an answer
		}
		defer func() { <-slots }()
		h.ServeHTTP(w, r)
	})
}
