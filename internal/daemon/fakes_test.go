package daemon

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/config"
	"github.com/multilink/multilink/internal/errkind"
)

// role is the shared state of a fake hub or gateway: what runs, what a
// start of a name answers, and a start that blocks.
type role struct {
	mu      sync.Mutex
	running map[string]bool
	fail    map[string]error // a start of that name fails so
	starts  map[string]int   // starts tried, by name
	entered chan string      // if set, gets each name whose start is called
	block   chan struct{}    // if set, starts wait for it to close
}

func newRole() *role {
	return &role{running: map[string]bool{}, fail: map[string]error{}, starts: map[string]int{}}
}

// start marks name running and calls commit under the same lock, so that
// a concurrent Configs never sees it running without its api.
func (f *role) start(ctx context.Context, name string, commit func()) error {
	f.mu.Lock()
	f.starts[name]++
	entered, block := f.entered, f.block
	f.mu.Unlock()
	if entered != nil {
		entered <- name
	}
	if block != nil {
		<-block // a start that is past its last cancellation point
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[name]; err != nil {
		return err
	}
	if f.running[name] {
		return errkind.Conflict("%s is already started", name)
	}
	f.running[name] = true
	commit()
	return nil
}

func (f *role) stop(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running[name] {
		return errkind.NotFound("%s is not started", name)
	}
	delete(f.running, name)
	return nil
}

func (f *role) setFail(name string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[name] = err
}

func (f *role) isRunning(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running[name]
}

func (f *role) startsOf(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts[name]
}

// fakeHub is a servers whose bridges run in memory.
type fakeHub struct {
	*role
	cfgs     map[string]api.Server
	statuses []api.ServerStatus // if set, Status answers these
}

func (h *fakeHub) Start(ctx context.Context, c api.Server) (api.ServerStatus, error) {
	if err := h.start(ctx, c.BridgeInterface, func() { h.cfgs[c.BridgeInterface] = c }); err != nil {
		return api.ServerStatus{}, err
	}
	return api.ServerStatus{Bridge: c.BridgeInterface, Present: true}, nil
}

func (h *fakeHub) Stop(_ context.Context, name string) error { return h.stop(name) }

func (h *fakeHub) Status(context.Context) []api.ServerStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.statuses != nil {
		return h.statuses
	}
	var out []api.ServerStatus
	for name := range h.running {
		out = append(out, api.ServerStatus{Bridge: name, Present: true, Links: []api.ServerLink{{Tap: "tap1", Running: true}}})
	}
	return out
}

func (h *fakeHub) Key(context.Context, string) (api.Key, error) { return api.Key{}, nil }

func (h *fakeHub) Configs() []api.Server {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []api.Server
	for name := range h.running {
		out = append(out, h.cfgs[name])
	}
	return out
}

func (h *fakeHub) Close(context.Context) error { return nil }

// fakeGateway is a clients whose bonds run in memory.
type fakeGateway struct {
	*role
	cfgs     map[string]api.Client
	statuses []api.ClientStatus // if set, Status answers these
}

func (g *fakeGateway) Start(ctx context.Context, c api.Client) (api.ClientStatus, error) {
	if err := g.start(ctx, c.Bond, func() { g.cfgs[c.Bond] = c }); err != nil {
		return api.ClientStatus{}, err
	}
	return api.ClientStatus{Bond: c.Bond, Present: true}, nil
}

func (g *fakeGateway) Stop(_ context.Context, name string) error { return g.stop(name) }

func (g *fakeGateway) Status(context.Context) []api.ClientStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.statuses != nil {
		return g.statuses
	}
	var out []api.ClientStatus
	for name := range g.running {
		out = append(out, api.ClientStatus{Bond: name, Present: true, Active: "tap1", Links: []api.ClientLink{{Tap: "tap1", Running: true}}})
	}
	return out
}

func (g *fakeGateway) BondParams(context.Context, string) (api.BondInfo, error) {
	return api.BondInfo{}, nil
}

func (g *fakeGateway) SetBondParams(context.Context, string, api.BondParams) (api.BondInfo, error) {
	return api.BondInfo{}, nil
}

func (g *fakeGateway) Configs() []api.Client {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []api.Client
	for name := range g.running {
		out = append(out, g.cfgs[name])
	}
	return out
}

func (g *fakeGateway) Close(context.Context) error { return nil }

// fixture is roles over a fake hub and gateway, a state dir and fast retries.
type fixture struct {
	*roles
	hub *fakeHub
	gw  *fakeGateway
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	h := &fakeHub{role: newRole(), cfgs: map[string]api.Server{}}
	g := &fakeGateway{role: newRole(), cfgs: map[string]api.Client{}}
	r := newRoles(h, g, newStore(t.TempDir()), slog.New(slog.DiscardHandler))
	r.retry = backoff{min: 5 * time.Millisecond, max: 20 * time.Millisecond}
	t.Cleanup(r.stopRetries)
	return &fixture{roles: r, hub: h, gw: g}
}

// saved is the desired state on disk.
func (f *fixture) saved(t *testing.T) config.File {
	t.Helper()
	s, err := f.store.load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// specServer is the spec's server, its TAPs named srv1, srv2 so that it
// can run beside specClient.
func specServer(t *testing.T) api.Server {
	t.Helper()
	var s api.Server
	readJSON(t, "../../api/testdata/spec_server_start.json", &s)
	s.TapPrefix = "srv"
	return s
}

func specClient(t *testing.T) api.Client {
	t.Helper()
	var c api.Client
	readJSON(t, "../../api/testdata/spec_client_start.json", &c)
	return c
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}
