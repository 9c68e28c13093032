package daemon

import (
	"context"
	"log/slog"
	"sync"

	"github.com/multilink/multilink/bond"
	"github.com/multilink/multilink/config"
	"github.com/multilink/multilink/gateway"
	"github.com/multilink/multilink/hub"
)

// roles puts the hub and gateway behind the API and saves the desired
// state after every change that succeeds.
type roles struct {
	hub   *hub.Hub
	gw    *gateway.Gateway
	store store
	log   *slog.Logger

	mu      sync.Mutex               // guards pending, serialises saves
	pending map[string]config.Client // clients waiting for their hub (restore)
}

func (r *roles) save() {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := config.File{Servers: r.hub.Configs(), Clients: r.gw.Configs()}
	for _, c := range r.pending {
		f.Clients = append(f.Clients, c)
	}
	if err := r.store.save(f); err != nil {
		// The change is made; only its survival across a restart is at risk.
		r.log.Error("save desired state", "err", err)
	}
}

// hubRole is the api's view of the server role.
type hubRole struct{ *roles }

func (h hubRole) Start(ctx context.Context, c config.Server) (hub.Status, error) {
	st, err := h.hub.Start(ctx, c)
	if err == nil {
		h.save()
	}
	return st, err
}

func (h hubRole) Stop(ctx context.Context, name string) error {
	err := h.hub.Stop(ctx, name)
	h.save()
	return err
}

func (h hubRole) Status(ctx context.Context) []hub.Status { return h.hub.Status(ctx) }

func (h hubRole) Key(ctx context.Context, bridge string) (hub.Key, error) {
	return h.hub.Key(ctx, bridge)
}

// gatewayRole is the api's view of the client role.
type gatewayRole struct{ *roles }

func (g gatewayRole) Start(ctx context.Context, c config.Client) (gateway.Status, error) {
	st, err := g.gw.Start(ctx, c)
	if err == nil {
		g.save()
	}
	return st, err
}

func (g gatewayRole) Stop(ctx context.Context, name string) error {
	if g.takePending(name) {
		g.save()
		return nil
	}
	err := g.gw.Stop(ctx, name)
	g.save()
	return err
}

func (g gatewayRole) Status(ctx context.Context) []gateway.Status { return g.gw.Status(ctx) }

func (g gatewayRole) BondParams(ctx context.Context, name string) (bond.Info, error) {
	return g.gw.BondParams(ctx, name)
}

func (g gatewayRole) SetBondParams(ctx context.Context, name string, p config.BondParams) (bond.Info, error) {
	info, err := g.gw.SetBondParams(ctx, name, p)
	if err == nil {
		g.save()
	}
	return info, err
}
