package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
)

// Answers of a hub's status for the spec client's first link (br0, port 1191).
var (
	hubGone    = statusAnswer{err: errkind.Unavailable(nil, "connection refused")}
	hubServing = statusAnswer{st: api.ServerStatusResponse{Started: true, Servers: []api.ServerStatus{{Bridge: "br0",
		Links: []api.ServerLink{{Tap: "tap1", Port: 1191, Running: true}, {Tap: "tap2", Port: 1192, Running: true}}}}}}
	hubOtherUp = statusAnswer{st: api.ServerStatusResponse{Started: true, Servers: []api.ServerStatus{{Bridge: "br0",
		Links: []api.ServerLink{{Tap: "tap1", Port: 1191}, {Tap: "tap2", Port: 1192, Running: true}}}}}}
)

// hubBackGateway is a gateway with the spec's client started, asking a
// hub that answers its status with script.
func hubBackGateway(t *testing.T, script ...statusAnswer) (*world, *fetcher, *Gateway) {
	t.Helper()
	w := newWorld("eth0", "wlan0")
	f := &fetcher{status: script}
	g := testGateway(t, w, f)
	if _, err := g.Start(context.Background(), testsupport.SpecClient(t)); err != nil {
		t.Fatal(err)
	}
	return w, f, g
}

// restarts lists the TAPs whose tunnel was restarted.
func restarts(w *world) []string {
	var out []string
	for _, op := range w.Ops() {
		if tap, ok := strings.CutPrefix(op, "tunnel restart "); ok {
			out = append(out, tap)
		}
	}
	return out
}

// TestWatchHub: after its hub end exited, a link's tunnel is restarted
// once the hub serves it again (two reads in a row after the hub was seen
// without it); not when the hub served it all along, while another link
// alone is served, once the link initiated a session by itself, past
// hubBackWait, or for a bond being rotated.
func TestWatchHub(t *testing.T) {
	const poll = time.Millisecond
	for _, c := range []struct {
		name      string
		script    []statusAnswer
		exitedAgo time.Duration
		rotating  bool
		connected bool // the tunnel initiated a session after the exit
		want      bool // tap1 restarted
		calls     int  // status reads made (0: not checked)
	}{
		{"back after a restart", []statusAnswer{hubGone, hubGone, hubServing}, 0, false, false, true, 4},
		{"one read is not enough", []statusAnswer{hubGone, hubServing, hubGone, hubServing}, 0, false, false, true, 5},
		{"served all along", []statusAnswer{hubServing}, 0, false, false, false, 1},
		{"another link served", []statusAnswer{hubGone, hubOtherUp}, hubBackWait - 50*time.Millisecond, false, false, false, 0},
		{"never back", []statusAnswer{hubGone}, hubBackWait - 50*time.Millisecond, false, false, false, 0},
		{"back by itself", []statusAnswer{hubGone, hubServing}, time.Second, false, true, false, 1},
		{"rotating", []statusAnswer{hubGone, hubServing}, 0, true, false, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, f, g := hubBackGateway(t, c.script...)
			if c.rotating {
				g.rotating["bond0"] = true
			}
			exited := time.Now().Add(-c.exitedAgo)
			if c.connected {
				w.connected = exited.Add(time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			g.watchHub(ctx, "tap1", exited, poll)
			if ctx.Err() != nil {
				t.Fatal("the watch did not end")
			}
			got := restarts(w)
			if c.want && (len(got) != 1 || got[0] != "tap1") || !c.want && len(got) != 0 {
				t.Fatalf("restarted %v, want tap1: %t", got, c.want)
			}
			if c.calls != 0 && f.statusCalls != c.calls {
				t.Errorf("%d status reads, want %d", f.statusCalls, c.calls)
			}
		})
	}
}

// TestWatchHubUnknownTap: a TAP of no client (a hub's own) is not watched.
func TestWatchHubUnknownTap(t *testing.T) {
	w, f, g := hubBackGateway(t, hubServing)
	g.watchHub(context.Background(), "tap9", time.Now(), time.Millisecond)
	if s := restarts(w); len(s) != 0 || f.statusCalls != 0 {
		t.Fatalf("restarted %v, %d status reads: want none", s, f.statusCalls)
	}
}

// TestPeerExitedOnce: a second exit of a link being watched starts no
// second watch.
func TestPeerExitedOnce(t *testing.T) {
	w, _, g := hubBackGateway(t, hubGone, hubServing)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var hb hubBack
	g.peerExited(ctx, &hb, "tap1")
	g.peerExited(ctx, &hb, "tap1")
	hb.mu.Lock()
	n := len(hb.watching)
	hb.mu.Unlock()
	if n != 1 {
		t.Errorf("%d watches, want 1", n)
	}
	hb.wg.Wait() // three reads, hubBackPoll apart
	if s := restarts(w); len(s) != 1 {
		t.Fatalf("restarted %v, want once", s)
	}
}
