package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/multilink/multilink/internal/nstest"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// maxWindowLines bounds each excerpt a failure report quotes.
const maxWindowLines = 80

// logWindow is d's log records stamped between from and to (slog's
// time=), at most maxWindowLines of the first: what the daemon did while
// a test saw something go wrong.
func (d *daemon) logWindow(from, to time.Time) string {
	var out []string
	for _, l := range strings.Split(d.Logs(0), "\n") {
		at, ok := recordTime(l)
		if ok && !at.Before(from) && !at.After(to) && len(out) < maxWindowLines {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// recordTime is a slog text record's time= field.
func recordTime(line string) (time.Time, bool) {
	_, rest, ok := strings.Cut(line, "time=")
	if !ok {
		return time.Time{}, false
	}
	field, _, _ := strings.Cut(rest, " ")
	at, err := time.Parse(time.RFC3339Nano, field)
	return at, err == nil
}

// kernelClock maps wall time to the kernel log's clock (seconds since
// boot), read once when it is made.
type kernelClock struct {
	wall   time.Time
	uptime float64
}

func newKernelClock() (kernelClock, error) {
	data, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return kernelClock{}, fmt.Errorf("read uptime: %w", err)
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return kernelClock{}, fmt.Errorf("read uptime: empty")
	}
	up, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return kernelClock{}, fmt.Errorf("read uptime %q: %w", f[0], err)
	}
	return kernelClock{wall: time.Now(), uptime: up}, nil
}

// window is the kernel log's lines between from and to, each with its
// offset from from, at most maxWindowLines: the bonding driver's own
// account (slaves up and down, the active one chosen).
func (c kernelClock) window(from, to time.Time) string {
	out, err := exec.Command("dmesg").Output()
	if err != nil {
		return fmt.Sprintf("(dmesg: %v)", err)
	}
	lo := c.uptime + from.Sub(c.wall).Seconds()
	hi := c.uptime + to.Sub(c.wall).Seconds()
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		stamp, rest, ok := strings.Cut(strings.TrimPrefix(l, "["), "]")
		if !ok {
			continue
		}
		at, err := strconv.ParseFloat(strings.TrimSpace(stamp), 64)
		if err != nil || at < lo || at > hi || len(lines) >= maxWindowLines {
			continue
		}
		lines = append(lines, fmt.Sprintf("%+.3fs%s", at-lo, rest))
	}
	return strings.Join(lines, "\n")
}

// trail is what a sampled value was over time: each change, sampled
// every trailEvery.
type trail struct {
	mu      sync.Mutex
	changes []change
}

type change struct {
	at    time.Time
	value string
}

const trailEvery = 20 * time.Millisecond

// watch samples value until ctx ends.
func watch(ctx context.Context, value func() string) *trail {
	tr := &trail{}
	go func() {
		tick := time.NewTicker(trailEvery)
		defer tick.Stop()
		last := "?"
		for {
			if v := value(); v != last {
				tr.mu.Lock()
				tr.changes = append(tr.changes, change{at: time.Now(), value: v})
				tr.mu.Unlock()
				last = v
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return tr
}

// fdbPort is the port ns's bridge forwards mac to ("" while it has no
// entry): a frame with mac as its source on another port moves the entry
// there, and the bridge then sends that port what was meant for mac.
func fdbPort(ns *nstest.NS, mac net.HardwareAddr) func() string {
	return func() string {
		entries, err := ns.Handle.NeighList(0, unix.AF_BRIDGE)
		if err != nil {
			return "error: " + err.Error()
		}
		for _, e := range entries {
			if bytes.Equal(e.HardwareAddr, mac) && e.MasterIndex != 0 {
				if l, err := ns.Handle.LinkByIndex(e.LinkIndex); err == nil {
					return l.Attrs().Name
				}
			}
		}
		return ""
	}
}

// neighbour is ns's neighbour entry for ip: its state and MAC.
func neighbour(ns *nstest.NS, ip net.IP) func() string {
	return func() string {
		entries, err := ns.Handle.NeighList(0, unix.AF_INET)
		if err != nil {
			return "error: " + err.Error()
		}
		for _, e := range entries {
			if e.IP.Equal(ip) {
				return fmt.Sprintf("%s %s", nudName(e.State), e.HardwareAddr)
			}
		}
		return "none"
	}
}

// nudName names a neighbour state (NUD_*), several bits joined.
func nudName(state int) string {
	var names []string
	for _, n := range []struct {
		bit  int
		name string
	}{{netlink.NUD_INCOMPLETE, "incomplete"}, {netlink.NUD_REACHABLE, "reachable"}, {netlink.NUD_STALE, "stale"}, {netlink.NUD_DELAY, "delay"},
		{netlink.NUD_PROBE, "probe"}, {netlink.NUD_FAILED, "failed"}, {netlink.NUD_NOARP, "noarp"}, {netlink.NUD_PERMANENT, "permanent"}} {
		if state&n.bit != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("state %#x", state)
	}
	return strings.Join(names, "|")
}

// between is the trail from from to to, each change's offset from from.
func (tr *trail) between(from, to time.Time) string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []string
	before := "" // the value as from began
	for _, c := range tr.changes {
		switch {
		case c.at.Before(from):
			before = fmt.Sprintf("%q", c.value)
		case !c.at.After(to):
			out = append(out, fmt.Sprintf("%s %q", c.at.Sub(from).Round(time.Millisecond), c.value))
		}
	}
	return strings.Join(append([]string{"0s " + before}, out...), ", ")
}
