package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/topology"
)

// The footprint benchmark's knobs: how long the load lasts and how many
// clients send it.
const (
	footprintWindowEnv  = "MULTILINK_FOOTPRINT_WINDOW"
	footprintClientsEnv = "MULTILINK_FOOTPRINT_CLIENTS"
	// footprintBaselineEnv names another multilink binary (an earlier
	// commit's build) measured first, under the same load, as the
	// baseline.
	footprintBaselineEnv = "MULTILINK_FOOTPRINT_BASELINE_BIN"
)

// footprintIdle is how long the idle figures are taken over, before and
// after the load.
const footprintIdle = 10 * time.Second

// footprintSampleEvery is how often the daemon's memory is read.
const footprintSampleEvery = 100 * time.Millisecond

// footprintReads are the gateway's read endpoints the clients take turns
// on, each followed by a GET /metrics (half the requests are scrapes).
var footprintReads = []string{
	"/v1/client/status",
	"/v1/client/links",
	"/v1/client/events?bond=bond0",
	"/v1/client/events?bond=bond0&limit=512",
	"/v1/client/policy/bond0",
	"/v1/client/bond_params/bond0",
	"/v1/server/status",
	"/health",
	"/version",
}

// BenchmarkFootprint measures the gateway daemon's memory and CPU, idle
// and under sustained scraping and API reads (issue 30: RSS at most 30 MB,
// the idle daemon under 1 % of a core), on the eBPF bond:
//
//	make build && MULTILINK_BIN=$PWD/bin/multilink go test -count=1 -run '^$' -bench Footprint -benchtime 1x -v ./e2e
//
// Per arm, a fresh topology and daemons: the idle gateway's RSS and CPU
// over 10 s; then MULTILINK_FOOTPRINT_CLIENTS clients (default 16, each
// on its own kept-alive connection, with the token, as fast as answers
// come) send GET /metrics and the read endpoints in turn for
// MULTILINK_FOOTPRINT_WINDOW (default 60s); then 10 s idle again. VmRSS is
// read from /proc/<pid>/status every 100 ms; VmHWM is the peak.
func BenchmarkFootprint(b *testing.B) {
	window := time.Minute
	if w, err := time.ParseDuration(os.Getenv(footprintWindowEnv)); err == nil && w > 0 {
		window = w
	}
	clients := 16
	if n, err := strconv.Atoi(os.Getenv(footprintClientsEnv)); err == nil && n > 0 {
		clients = n
	}
	var arms []footprintArm
	if p := os.Getenv(footprintBaselineEnv); p != "" {
		arms = append(arms, footprintArm{name: "baseline", bin: p})
	}
	arms = append(arms,
		footprintArm{name: "no-memory-limit", flags: []string{"--memory-limit-mib", "0"}},
		footprintArm{name: "default"})
	for _, arm := range arms {
		b.Run(arm.name, func(b *testing.B) { benchFootprint(b, arm, window, clients) })
	}
}

// footprintArm is one setting of the gateway daemon: its binary ("": the
// one under test) and extra flags.
type footprintArm struct {
	name  string
	bin   string
	flags []string
}

func benchFootprint(b *testing.B, arm footprintArm, window time.Duration, clients int) {
	tp, _, kind := newBenchTopology(b)
	b.Logf("BENCH footprint underlays: %s", kind)
	// The daemons' default log level: the harness's debug logs a line per
	// read, which is not what a gateway runs with.
	flags := append([]string{"--log-level", "info"}, arm.flags...)
	bin := arm.bin
	if bin == "" {
		bin = buildBinary(b)
	}
	_, gw := scenarioBin(b, tp, bin, specServerBody(b), specClientBody(b), "ebpf", nil, flags...)
	pid := gw.Pid()
	time.Sleep(3 * time.Second) // past start-up

	idle := sampleFootprint(b, pid, footprintIdle)
	hwmIdle := idle.last.hwm

	ctx, cancel := context.WithCancel(context.Background())
	var codes sync.Map // status code -> *atomic.Int64
	var wg sync.WaitGroup
	client := footprintClient(tp, clients)
	for i := range clients {
		wg.Go(func() { footprintLoad(ctx, client, gw, i, &codes) })
	}
	load := sampleFootprint(b, pid, window)
	goMem := goMemory(b, client)
	cancel()
	wg.Wait()
	client.CloseIdleConnections()

	after := sampleFootprint(b, pid, footprintIdle)

	counts := map[int]int64{}
	var answered int64
	codes.Range(func(k, v any) bool {
		n := v.(*atomic.Int64).Load()
		counts[k.(int)] = n
		if k.(int) != 0 {
			answered += n
		}
		return true
	})
	rps := float64(answered) / load.took.Seconds()
	mib := func(kb uint64) float64 { return float64(kb) / 1024 }
	rss := load.rssMiB()
	idleAnon, idleFile := idle.split()
	loadAnon, loadFile := load.split()
	afterAnon, afterFile := after.split()
	b.Logf("BENCH footprint %s idle before: RSS median %.1f MiB (anon %.1f, file %.1f), peak so far (VmHWM) %.1f MiB, CPU %.2f%% of one CPU over %s",
		arm.name, median(idle.rssMiB()), idleAnon, idleFile, mib(hwmIdle), idle.cpuPercent(), footprintIdle)
	b.Logf("BENCH footprint %s load (%d clients, GET /metrics and reads in turn, %s): RSS median %.1f MiB (anon %.1f, file %.1f), p95 %.1f MiB, max sampled %.1f MiB, peak (VmHWM) %.1f MiB; %.0f answers/s by status %v; daemon CPU %.1f%% of one CPU, %.0f µs per answer; host CPU busy %.0f%% of %d CPUs",
		arm.name, clients, load.took.Round(time.Second),
		median(rss), loadAnon, loadFile, percentile(rss, 0.95), slices.Max(rss), mib(load.last.hwm), rps, counts,
		load.cpuPercent(), load.cpu.Seconds()/float64(max(answered, 1))*1e6, load.hostBusy*100, load.cpus)
	b.Logf("BENCH footprint %s Go memory at the load's end (the daemon's /metrics): %s", arm.name, goMem)
	b.Logf("BENCH footprint %s idle after: RSS median %.1f MiB (anon %.1f, file %.1f), CPU %.2f%% of one CPU over %s",
		arm.name, median(after.rssMiB()), afterAnon, afterFile, after.cpuPercent(), footprintIdle)
	b.ReportMetric(median(idle.rssMiB()), "MiB-idle-rss")
	b.ReportMetric(mib(load.last.hwm), "MiB-peak-rss")
	b.ReportMetric(median(rss), "MiB-load-rss-median")
	b.ReportMetric(percentile(rss, 0.95), "MiB-load-rss-p95")
	b.ReportMetric(rps, "answers/s")
	b.ReportMetric(load.cpuPercent(), "%cpu-load")
	b.ReportMetric(idle.cpuPercent(), "%cpu-idle")
	b.ReportMetric(load.cpu.Seconds()/float64(max(answered, 1))*1e6, "µs-cpu/answer")
}

// footprintClient is an HTTP client that dials in the gateway's namespace
// and keeps one connection per client alive, as a scraper does.
func footprintClient(tp *testbed, clients int) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := tp.gw.Do(func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	return &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
}

// goMemFigures are the Go runtime's figures goMemory reports, as the
// daemon's /metrics names them.
var goMemFigures = []string{
	"go_memstats_heap_alloc_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_next_gc_bytes",
	"go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes", "go_memstats_heap_released_bytes",
	"go_gc_gomemlimit_bytes", "go_goroutines",
}

// goMemory is what the daemon's Go runtime says of its memory now: the
// figures of goMemFigures from its /metrics, bytes in MiB.
func goMemory(t testing.TB, c *http.Client) string {
	t.Helper()
	resp, err := c.Get("http://127.0.0.1:" + topology.APIPort + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	found := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !slices.Contains(goMemFigures, name) {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil && strings.HasSuffix(name, "_bytes") {
			value = fmt.Sprintf("%.1f MiB", v/(1<<20))
		}
		found[strings.TrimPrefix(name, "go_")] = value
	}
	var out []string
	for _, name := range goMemFigures {
		if v, ok := found[strings.TrimPrefix(name, "go_")]; ok {
			out = append(out, strings.TrimPrefix(name, "go_")+" "+v)
		}
	}
	return strings.Join(out, ", ")
}

// footprintLoad sends GET /metrics and the next read in turn, from read
// i on, until ctx ends, counting answers by status (0: no answer).
func footprintLoad(ctx context.Context, c *http.Client, gw *daemon, i int, codes *sync.Map) {
	count := func(code int) {
		n, _ := codes.LoadOrStore(code, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	for ctx.Err() == nil {
		for _, path := range []string{"/metrics", footprintReads[i%len(footprintReads)]} {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+topology.APIPort+path, nil)
			if err != nil {
				panic(err) // a constant URL
			}
			req.Header.Set("Authorization", "Bearer "+gw.token)
			resp, err := c.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					count(0)
					time.Sleep(10 * time.Millisecond)
				}
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			count(resp.StatusCode)
		}
		i++
	}
}

// memSample is one reading of a process's /proc/<pid>/status, in kB: its
// resident set, the peak of it, and the resident set's anonymous memory
// (the Go heap, stacks, the runtime's own) and file pages (the binary's
// code and read-only data, shared with the page cache).
type memSample struct{ rss, hwm, anon, file uint64 }

// footprint is what sampleFootprint saw over a window.
type footprint struct {
	samples  []memSample
	last     memSample
	took     time.Duration
	cpu      time.Duration // the process's user+system time over it
	hostBusy float64       // the machine's busy share over it
	cpus     int
}

func (f footprint) rssMiB() []float64 { return f.mib(func(s memSample) uint64 { return s.rss }) }

// mib is one figure of every sample, in MiB.
func (f footprint) mib(of func(memSample) uint64) []float64 {
	out := make([]float64, len(f.samples))
	for i, s := range f.samples {
		out[i] = float64(of(s)) / 1024
	}
	return out
}

// split is the median anonymous and file-backed resident memory, MiB.
func (f footprint) split() (anon, file float64) {
	return median(f.mib(func(s memSample) uint64 { return s.anon })), median(f.mib(func(s memSample) uint64 { return s.file }))
}

func (f footprint) cpuPercent() float64 { return f.cpu.Seconds() / f.took.Seconds() * 100 }

// sampleFootprint reads pid's memory every footprintSampleEvery for d,
// and its CPU time and the machine's over d.
func sampleFootprint(t testing.TB, pid int, d time.Duration) footprint {
	t.Helper()
	start, cpu0, host0 := time.Now(), processCPU(t, pid), cpuTimes(t)
	var f footprint
	tick := time.NewTicker(footprintSampleEvery)
	defer tick.Stop()
	for time.Since(start) < d {
		<-tick.C
		f.last = procMem(t, pid)
		f.samples = append(f.samples, f.last)
	}
	f.took, f.cpu = time.Since(start), processCPU(t, pid)-cpu0
	f.hostBusy, f.cpus = cpuBusy(host0, cpuTimes(t))
	return f
}

// procMem reads VmRSS and VmHWM from /proc/<pid>/status.
func procMem(t testing.TB, pid int) memSample {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var m memSample
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		var field *uint64
		switch k {
		case "VmRSS":
			field = &m.rss
		case "VmHWM":
			field = &m.hwm
		case "RssAnon":
			field = &m.anon
		case "RssFile":
			field = &m.file
		}
		if !ok || field == nil {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("/proc/%d/status: %s: %v", pid, sc.Text(), err)
		}
		*field = n
	}
	if m.rss == 0 || m.hwm == 0 {
		t.Fatalf("/proc/%d/status has no VmRSS or VmHWM", pid)
	}
	return m
}

// percentile is the p-quantile of v (nearest rank).
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}
