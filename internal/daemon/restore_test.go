package daemon

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/config"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
)

// settle bounds the waits for retries and restores.
const settle = 5 * time.Second

func (f *fixture) attempts(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.pending[key]; ok {
		return p.attempts
	}
	return -1
}

// TestRestoreKeepsFailedEntries: a server and a client whose starts fail
// at boot, for reasons other than an unreachable hub, stay in the desired
// state, are reported, and start once the host is ready.
func TestRestoreKeepsFailedEntries(t *testing.T) {
	f := newFixture(t)
	f.hub.SetFail("br0", errkind.Unsupported(errors.New("exec: not found"), "find openvpn"))
	f.gw.SetFail("bond0", errkind.Invalid("bond.bond0.slaves[1].hw_int", "no interface wlan0 on this host"))
	f.restore(context.Background(), config.File{Servers: []api.Server{specServer(t)}, Clients: []api.Client{testsupport.SpecClient(t)}})

	if s := f.saved(t); len(s.Servers) != 1 || len(s.Clients) != 1 {
		t.Fatalf("desired state after failed restores: %+v", s)
	}
	rep := health{r: f.roles}.Health(context.Background())
	if rep.Status != "degraded" {
		t.Errorf("health %q, want degraded", rep.Status)
	}
	details := map[string]string{}
	for _, c := range rep.Checks {
		details[c.Name] = c.Detail
	}
	if d := details["server/br0"]; !strings.Contains(d, "find openvpn") {
		t.Errorf("health of server/br0 %q does not give the error", d)
	}
	if d := details["client/bond0"]; !strings.Contains(d, "no interface wlan0") {
		t.Errorf("health of client/bond0 %q does not give the error", d)
	}
	servers := hubRole{f.roles}.Status(context.Background())
	if len(servers) != 1 || !strings.Contains(servers[0].Pending, "find openvpn") || servers[0].Bridge != "br0" || len(servers[0].Links) != 2 {
		t.Errorf("server status %+v", servers)
	}
	clients := gatewayRole{f.roles}.Status(context.Background())
	if len(clients) != 1 || !strings.Contains(clients[0].Pending, "no interface wlan0") || clients[0].Links[1].HWInt != "wlan0" {
		t.Errorf("client status %+v", clients)
	}

	// They are retried, whatever the error, and start once they can.
	testsupport.Eventually(t, settle, "retries", func() bool { return f.attempts("client/bond0") >= 3 && f.attempts("server/br0") >= 3 })
	f.hub.SetFail("br0", nil)
	f.gw.SetFail("bond0", nil)
	testsupport.Eventually(t, settle, "the restores", func() bool { return f.hub.Running("br0") && f.gw.Running("bond0") })
	testsupport.Eventually(t, settle, "no pending entry", func() bool { list, _ := f.pendingList(); return len(list) == 0 })
	if s := f.saved(t); len(s.Servers) != 1 || len(s.Clients) != 1 {
		t.Errorf("desired state after the restores: %+v", s)
	}
	if rep := (health{r: f.roles}).Health(context.Background()); rep.Status != "ok" {
		t.Errorf("health after the restores: %+v", rep)
	}
}

// TestStartOfPendingConflicts: a pending entry is desired already; an API
// start of the same name is 409, not a second copy.
func TestStartOfPendingConflicts(t *testing.T) {
	f := newFixture(t)
	f.gw.SetFail("bond0", errkind.Unavailable(nil, "reach the hub"))
	f.hub.SetFail("br0", errkind.Conflict("interface br0 exists already"))
	f.restore(context.Background(), config.File{Servers: []api.Server{specServer(t)}, Clients: []api.Client{testsupport.SpecClient(t)}})
	if _, err := (gatewayRole{f.roles}).Start(context.Background(), testsupport.SpecClient(t)); errkind.KindOf(err) != errkind.KindConflict {
		t.Errorf("start of a pending client: %v, want conflict", err)
	}
	if _, err := (hubRole{f.roles}).Start(context.Background(), specServer(t)); errkind.KindOf(err) != errkind.KindConflict {
		t.Errorf("start of a pending server: %v, want conflict", err)
	}
}

// TestStopPending: an API stop removes a pending entry from the desired
// state and ends its retries.
func TestStopPending(t *testing.T) {
	f := newFixture(t)
	f.gw.SetFail("bond0", errkind.Unavailable(nil, "reach the hub"))
	f.hub.SetFail("br0", errkind.Unsupported(nil, "find openvpn"))
	f.restore(context.Background(), config.File{Servers: []api.Server{specServer(t)}, Clients: []api.Client{testsupport.SpecClient(t)}})
	if err := (gatewayRole{f.roles}).Stop(context.Background(), "bond0"); err != nil {
		t.Fatal(err)
	}
	if err := (hubRole{f.roles}).Stop(context.Background(), "br0"); err != nil {
		t.Fatal(err)
	}
	if s := f.saved(t); len(s.Servers)+len(s.Clients) != 0 {
		t.Errorf("desired state after the stops: %+v", s)
	}
	n := f.gw.Starts("bond0") + f.hub.Starts("br0")
	f.gw.SetFail("bond0", nil)
	f.hub.SetFail("br0", nil)
	time.Sleep(50 * time.Millisecond) // several retry periods
	if m := f.gw.Starts("bond0") + f.hub.Starts("br0"); m != n {
		t.Errorf("%d starts after the stops", m-n)
	}
	if rep := (health{r: f.roles}).Health(context.Background()); rep.Status != "ok" || len(rep.Checks) != 0 {
		t.Errorf("health after the stops: %+v", rep)
	}
	if err := (gatewayRole{f.roles}).Stop(context.Background(), "bond0"); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("second stop: %v, want not found", err)
	}
}

// TestStopPendingDuringStart: a stop that comes while a retry is starting
// the entry waits for that start and undoes it; the entry never comes back.
func TestStopPendingDuringStart(t *testing.T) {
	f := newFixture(t)
	f.gw.SetFail("bond0", errkind.Unavailable(nil, "reach the hub"))
	f.restore(context.Background(), config.File{Clients: []api.Client{testsupport.SpecClient(t)}})

	block := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(block) }) }
	t.Cleanup(release) // before the fixture's cleanup: a failed test does not hang
	entered := f.gw.HoldStarts(block)
	f.gw.SetFail("bond0", nil) // the retry under way will succeed
	<-entered                  // a retry is starting bond0

	stopped := make(chan error, 1)
	go func() { stopped <- gatewayRole{f.roles}.Stop(context.Background(), "bond0") }()
	select {
	case err := <-stopped:
		t.Fatalf("stop answered (%v) while the start was under way", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if f.gw.Running("bond0") {
		t.Error("bond0 runs after its stop answered")
	}
	if s := f.saved(t); len(s.Clients) != 0 {
		t.Errorf("desired state after the stop: %+v", s)
	}
	n := f.gw.Starts("bond0")
	time.Sleep(50 * time.Millisecond)
	if f.gw.Starts("bond0") != n || f.gw.Running("bond0") {
		t.Error("bond0 was started again after its stop")
	}
}

// TestShutdownEndsRetries: stopRetries ends the retry loops at once; the
// entries stay desired for the next start.
func TestShutdownEndsRetries(t *testing.T) {
	f := newFixture(t)
	f.retry = backoff{min: time.Hour, max: time.Hour}
	f.gw.SetFail("bond0", errkind.Unavailable(nil, "reach the hub"))
	f.restore(context.Background(), config.File{Clients: []api.Client{testsupport.SpecClient(t)}})
	done := make(chan struct{})
	go func() {
		f.stopRetries()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("stopRetries did not end a retry waiting an hour")
	}
	if s := f.saved(t); len(s.Clients) != 1 {
		t.Errorf("desired state after shutdown: %+v", s)
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{min: retryMin, max: retryMax}
	var got []time.Duration
	for d := b.min; len(got) < 7; d = b.next(d) {
		got = append(got, d)
	}
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits %v, want %v", got, want)
		}
	}
}

// TestDesiredTunnelModes: a server saved before tunnel modes restarts in
// static mode (its gateways hold the static key); a config file entry
// without a mode keeps the mode its bridge ran with; a new bridge of the
// file gets the default (none given: the hub's TLS); a mode given wins.
func TestDesiredTunnelModes(t *testing.T) {
	srv := func(bridge, mode string) api.Server {
		s := testsupport.SpecServer(t)
		s.BridgeInterface, s.TunnelMode = bridge, mode
		return s
	}
	saved := config.File{Servers: []api.Server{srv("br0", ""), srv("br1", "tls"), srv("br2", ""), srv("br3", "tls")}}
	file := config.File{Servers: []api.Server{srv("br1", ""), srv("br2", ""), srv("br3", "static"), srv("br4", "")}}
	got := map[string]string{}
	for _, s := range desired(saved, file).Servers {
		got[s.BridgeInterface] = s.TunnelMode
	}
	want := map[string]string{"br0": "static", "br1": "tls", "br2": "static", "br3": "static", "br4": ""}
	if !maps.Equal(got, want) {
		t.Errorf("modes %v, want %v", got, want)
	}
}
