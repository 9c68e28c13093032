package daemon

import (
	"log/slog"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/config"
	"github.com/multilink/multilink/internal/testsupport"
)

// fixture is roles over a fake hub and gateway, a state dir and fast retries.
type fixture struct {
	*roles
	hub *testsupport.FakeHub
	gw  *testsupport.FakeGateway
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	h := testsupport.NewFakeHub(nil, testsupport.Tracking)
	g := testsupport.NewFakeGateway(nil, testsupport.Tracking)
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
// can run beside the spec's client.
func specServer(t *testing.T) api.Server {
	t.Helper()
	s := testsupport.SpecServer(t)
	s.TapPrefix = "srv"
	return s
}
