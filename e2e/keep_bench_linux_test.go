package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/nstest"
)

// keepReps is how many restarts each case of BenchmarkKeepDataplane makes.
const keepReps = 10

// BenchmarkKeepDataplane restarts the gateway's and the hub's daemons
// (--keep-dataplane) under a 10 ms echo stream each way through the bond,
// keepReps times per case, and logs one BENCH line per case
// (docs/reliability.md):
//
//	go test -run '^$' -bench KeepDataplane -benchtime 1x ./e2e          (host: eBPF bond)
//	go run ./cmd/multilink-lab --packages ./e2e --run '^$' --bench KeepDataplane   (lab: kernel bond)
//
// Cases: control (the same windows without a restart: the streams' own
// noise), restart (SIGTERM, same binary), upgrade (SIGTERM, then another
// build of the binary, alternating), for the gateway and the hub; and the
// baseline, a restart without the flag (the data plane torn down and
// rebuilt), 3 times each. Per window: the longest gap each way and the
// echoes lost; the ratio is the case's longest gap to the control's.
func BenchmarkKeepDataplane(b *testing.B) {
	for _, driver := range drivers {
		b.Run(driver, func(b *testing.B) { benchKeep(b, driver) })
	}
}

// keepCase is one restart case's figures, per direction.
type keepCase struct {
	name             string
	gapUp, gapDown   []time.Duration
	lostUp, lostDown int
	sent             int
}

func (c *keepCase) add(s streams, from, to time.Time) {
	gu, gd, lu, ld := s.window(from, to)
	c.gapUp, c.gapDown = append(c.gapUp, gu), append(c.gapDown, gd)
	c.lostUp, c.lostDown = c.lostUp+lu, c.lostDown+ld
	_, n := s.up.Lost(from, to.Add(-time.Second))
	c.sent += n
}

func (c *keepCase) max() time.Duration { return max(slices.Max(c.gapUp), slices.Max(c.gapDown)) }

func (c *keepCase) report(b *testing.B, driver string, control *keepCase) {
	ratio := "-"
	if control != nil && control.max() > 0 {
		ratio = fmt.Sprintf("%.2f", float64(c.max())/float64(control.max()))
	}
	b.Logf("BENCH keep %s %s (%d): gateway->hub gaps %s (median %s); hub->gateway %s (median %s); lost %d and %d of %d each way; longest/control %s",
		driver, c.name, len(c.gapUp), msList(c.gapUp), medianDur(c.gapUp).Round(time.Millisecond), msList(c.gapDown), medianDur(c.gapDown).Round(time.Millisecond),
		c.lostUp, c.lostDown, c.sent, ratio)
}

func msList(d []time.Duration) string {
	s := slices.Sorted(slices.Values(d))
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%.0f", float64(x)/float64(time.Millisecond))
	}
	return "[" + strings.Join(out, " ") + "] ms"
}

func medianDur(d []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(d))
	return s[len(s)/2]
}

func benchKeep(b *testing.B, driver string) {
	tp := newTopology(b)
	requireDriver(b, tp, driver)
	hub, gw := scenarioArgs(b, tp, specServerBody(b), specClientBody(b), driver, []string{"--keep-dataplane"}, "--keep-dataplane")
	waitActive(b, gw, "tap1", 30*time.Second)
	s := startStreams(b, tp)
	bins := [2]string{buildBinary(b), upgradeBinary(b)}
	cpu0 := cpuTimes(b)
	defer func() {
		busy, n := cpuBusy(cpu0, cpuTimes(b))
		b.Logf("BENCH keep %s CPU busy over the measurements: %.0f%% of %d CPUs", driver, busy*100, n)
	}()

	control := &keepCase{name: "control (no restart)"}
	for range keepReps {
		from := time.Now()
		time.Sleep(3 * time.Second)
		control.add(s, from, time.Now())
	}
	control.report(b, driver, nil)
	for _, c := range []struct {
		name    string
		d       **daemon
		upgrade bool
	}{{"gateway restart", &gw, false}, {"gateway upgrade", &gw, true}, {"hub restart", &hub, false}, {"hub upgrade", &hub, true}} {
		k := &keepCase{name: c.name}
		for i := range keepReps {
			bin := bins[0]
			if c.upgrade {
				bin = bins[(i+1)%2] // to the other build, and back, in turns
			}
			from := time.Now().Add(-time.Second)
			*c.d = restartWith(b, *c.d, bin, (*c.d).extra)
			waitActive(b, gw, "tap1", 10*time.Second)
			time.Sleep(2 * time.Second)
			k.add(s, from, time.Now())
		}
		k.report(b, driver, control)
		b.ReportMetric(float64(k.max())/float64(time.Millisecond), "ms-max-gap-"+strings.ReplaceAll(c.name, " ", "-"))
	}
	// The baseline: restarts without the flag. The first restart only
	// drops the flag (the data plane is adopted); the measured ones tear
	// it down at the stop and rebuild it at the start.
	for _, c := range []struct {
		name string
		d    **daemon
	}{{"gateway restart without --keep-dataplane", &gw}, {"hub restart without --keep-dataplane", &hub}} {
		plain := slices.DeleteFunc(slices.Clone((*c.d).extra), func(a string) bool { return a == "--keep-dataplane" })
		*c.d = restartWith(b, *c.d, bins[0], plain)
		k := &keepCase{name: c.name}
		for range 3 {
			from := time.Now().Add(-time.Second)
			*c.d = restartWith(b, *c.d, bins[0], plain)
			waitActive(b, gw, "tap1", 60*time.Second)
			waitFlowingAfter(b, s.up, time.Now())
			waitFlowingAfter(b, s.down, time.Now())
			time.Sleep(2 * time.Second)
			k.add(s, from, time.Now())
		}
		k.report(b, driver, control)
		// Back to keeping, for the purge at the end: a restart without the
		// flag, so the tunnels are made anew; the next case waits for them.
		back := time.Now()
		*c.d = restartWith(b, *c.d, bins[0], append(plain, "--keep-dataplane"))
		waitActive(b, gw, "tap1", 60*time.Second)
		waitFlowingAfter(b, s.up, back)
		waitFlowingAfter(b, s.down, back)
	}
}

// restartWith stops d (SIGTERM) and starts bin with flags extra on its
// state dir, then waits until it reports health ok.
func restartWith(t testing.TB, d *daemon, bin string, extra []string) *daemon {
	t.Helper()
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	n := d.againWith(t, bin, extra)
	waitHealthy(t, n, 60*time.Second)
	return n
}

// upgradeBinary is another build of multilink (its version differs): the
// lab's MULTILINK_BIN_UPGRADE, or one built here.
func upgradeBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("MULTILINK_BIN_UPGRADE"); p != "" {
		// Read once, and run once, so that its first start as a daemon
		// is not a cold read of 30 MB (the lab's shared work dir under
		// TCG took 14 s: past the harness's 20 s wait for the API).
		if _, err := os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(p, "version").CombinedOutput(); err != nil {
			t.Fatalf("%s version: %v\n%s", p, err, out)
		}
		return p
	}
	if _, err := exec.LookPath("go"); err != nil {
		nstest.Require(t, false, "no MULTILINK_BIN_UPGRADE and no go toolchain to build another binary")
	}
	out := filepath.Join(t.TempDir(), "multilink-upgrade")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version=upgrade", "-o", out, "github.com/multilink/multilink/cmd/multilink")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the upgrade binary: %v\n%s", err, o)
	}
	return out
}
