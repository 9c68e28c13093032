package e2e

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/nstest"
)

// traceEnv turns on the failback trace of BenchmarkFailover: a text
// capture of ARP and ICMP on every interface of the gateway's and the
// hub's namespaces around each return, whose lines near a lost echo are
// logged (which link, which MAC, which side of the switch). Off by default:
// tcpdump's cost would weigh on the figures of a busy lab VM.
const traceEnv = "MULTILINK_BENCH_TRACE"

// tracing says whether traceEnv is set.
func tracing() bool { return os.Getenv(traceEnv) != "" }

// trace is a running `tcpdump -i any` in one namespace, its lines kept.
type trace struct {
	ns   *nstest.NS
	out  *syncBuffer
	once sync.Once
	halt func() // ends tcpdump (once)
}

// startTrace starts tcpdump on every interface of ns for ARP and ICMP,
// line-buffered with epoch timestamps and link-level headers, and returns
// once it listens (bounded). The test's end stops it if the caller did not.
func startTrace(t testing.TB, ns *nstest.NS) *trace {
	t.Helper()
	requireTcpdump(t)
	tr := &trace{ns: ns, out: &syncBuffer{}}
	cmd, _, done := startTcpdump(t, ns, tr.out, "-i", "any", "-l", "-n", "-e", "-tt", "-Z", "root", "arp or icmp")
	tr.halt = func() { tr.once.Do(func() { _, _ = interruptTcpdump(cmd, done) }) }
	t.Cleanup(tr.halt)
	return tr
}

// stop ends tcpdump and returns its lines from..to (by their timestamps),
// each prefixed with its time from ref.
func (tr *trace) stop(from, to, ref time.Time) []string {
	tr.halt()
	var out []string
	sc := bufio.NewScanner(strings.NewReader(tr.out.String()))
	for sc.Scan() {
		line := sc.Text()
		stamp, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		sec, err := strconv.ParseFloat(stamp, 64)
		if err != nil {
			continue
		}
		at := time.Unix(0, int64(sec*1e9))
		if at.Before(from) || at.After(to) {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s +%s %s", tr.ns.Name, at.Format("15:04:05.000"), at.Sub(ref).Round(time.Millisecond), rest))
	}
	return out
}
