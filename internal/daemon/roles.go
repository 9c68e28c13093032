package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/bond"
	"github.com/multilink/multilink/internal/config"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/restapi"
)

// servers is what the daemon needs of the server role; *hub.Hub has it.
type servers interface {
	restapi.Hub
	Configs() []api.Server
	Close(ctx context.Context) error
	// Leave lets go of the servers, their bridges and tunnels kept.
	Leave(ctx context.Context) error
	// Interfaces lists what the servers started use (the sweep spares it).
	Interfaces() []string
}

// clients is what the daemon needs of the client role; *gateway.Gateway has it.
type clients interface {
	restapi.Gateway
	Configs() []api.Client
	Close(ctx context.Context) error
	// Leave lets go of the clients, their data plane kept.
	Leave(ctx context.Context) error
	// Interfaces lists what the clients started use (the sweep spares it).
	Interfaces() []string
	// SweepRoutes removes the policy routing no client uses.
	SweepRoutes() error
}

// roles puts the hub and gateway behind the API, keeps the desired entries
// that do not run yet (pending) and saves the desired state after every
// change.
type roles struct {
	hub   servers
	gw    clients
	store store
	log   *slog.Logger
	retry backoff // of pending entries

	saveMu  sync.Mutex // serialises saves: the last one written is the newest
	mu      sync.Mutex // guards pending
	pending map[string]*pending
	wg      sync.WaitGroup // retry loops
}

func newRoles(h servers, g clients, s store, log *slog.Logger) *roles {
	return &roles{hub: h, gw: g, store: s, log: log, retry: backoff{min: retryMin, max: retryMax}, pending: map[string]*pending{}}
}

// save writes the desired state: what runs and what is pending, less
// the entry keyed without ("" for none: a stop saves its entry's removal
// before it acts). A failure is logged and returned as errkind.KindStorage;
// the file on disk is then the one before (the write is atomic).
func (r *roles) save(without string) error {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	// Pending first: an entry that starts is running before it stops being
	// pending, so it is in one list or in both, never in neither.
	r.mu.Lock()
	waiting := make([]*pending, 0, len(r.pending))
	for _, p := range r.pending {
		waiting = append(waiting, p)
	}
	r.mu.Unlock()
	f := config.File{Servers: r.hub.Configs(), Clients: r.gw.Configs()}
	running := map[string]bool{}
	f.Servers = slices.DeleteFunc(f.Servers, func(s api.Server) bool { return serverKey(s.BridgeInterface) == without })
	f.Clients = slices.DeleteFunc(f.Clients, func(c api.Client) bool { return clientKey(c.Bond) == without })
	for _, s := range f.Servers {
		running[serverKey(s.BridgeInterface)] = true
	}
	for _, c := range f.Clients {
		running[clientKey(c.Bond)] = true
	}
	for _, p := range waiting {
		switch {
		case running[p.key()], p.key() == without: // started a moment ago, or being stopped
		case p.server != nil:
			f.Servers = append(f.Servers, *p.server)
		default:
			f.Clients = append(f.Clients, *p.client)
		}
	}
	sort.Slice(f.Servers, func(i, j int) bool { return f.Servers[i].BridgeInterface < f.Servers[j].BridgeInterface })
	sort.Slice(f.Clients, func(i, j int) bool { return f.Clients[i].Bond < f.Clients[j].Bond })
	if err := r.store.save(f); err != nil {
		r.log.Error("save desired state", "file", r.store.path, "err", err)
		return errkind.Storage(err, "save the desired state to %s", r.store.path)
	}
	return nil
}

// keepSaved saves the desired state where no request waits on it (a
// pending entry started or stopped in the background): a failure is
// logged by save, and the next save tries again.
func (r *roles) keepSaved() { _ = r.save("") }

// undone reports a change that was made and then undone because it could
// not be saved (err); a failed undo is logged and named too.
func (r *roles) undone(what string, err, undoErr error) error {
	if undoErr != nil {
		r.log.Error("undo after a failed save", "change", what, "err", undoErr)
		return fmt.Errorf("%s: %w (and undoing it failed: %v)", what, err, undoErr)
	}
	return fmt.Errorf("%s: %w; it was undone", what, err)
}

// hubRole is the api's view of the server role.
type hubRole struct{ *roles }

func (h hubRole) Start(ctx context.Context, c api.Server) (api.ServerStatus, error) {
	if err := h.notPending(serverKey(c.BridgeInterface)); err != nil {
		return api.ServerStatus{}, err
	}
	st, err := h.hub.Start(ctx, c)
	if err != nil {
		return st, err
	}
	if err := h.save(""); err != nil {
		return api.ServerStatus{}, h.undone("start server "+c.BridgeInterface, err, h.hub.Stop(context.WithoutCancel(ctx), c.BridgeInterface))
	}
	return st, nil
}

// Stop stops a server, or ends the retries of a pending one: either way
// it leaves the desired state, which is saved first: a stop that cannot
// be saved changes nothing.
func (h hubRole) Stop(ctx context.Context, name string) error {
	if err := h.save(serverKey(name)); err != nil {
		return fmt.Errorf("stop server %s: %w; nothing was changed", name, err)
	}
	if ok, err := h.stopPending(ctx, serverKey(name)); ok {
		return err
	}
	err := h.hub.Stop(ctx, name)
	h.keepSaved()
	return err
}

// Status lists the running servers and the pending ones.
func (h hubRole) Status(ctx context.Context) []api.ServerStatus {
	out := append(h.hub.Status(ctx), h.pendingServers()...)
	sort.Slice(out, func(i, j int) bool { return out[i].Bridge < out[j].Bridge })
	return out
}

func (h hubRole) Key(ctx context.Context, bridge string) (api.Key, error) {
	return h.hub.Key(ctx, bridge)
}

func (h hubRole) Claim(ctx context.Context, r api.ClaimRequest) (api.Key, error) {
	return h.hub.Claim(ctx, r)
}

func (h hubRole) Release(ctx context.Context, bridge string, who *api.ReleaseRequest) (api.Released, error) {
	return h.hub.Release(ctx, bridge, who)
}

func (h hubRole) Rotate(ctx context.Context, bridge string, r api.RotateRequest) (api.KeyLink, error) {
	return h.hub.Rotate(ctx, bridge, r)
}

// gatewayRole is the api's view of the client role.
type gatewayRole struct{ *roles }

func (g gatewayRole) Start(ctx context.Context, c api.Client) (api.ClientStatus, error) {
	if err := g.notPending(clientKey(c.Bond)); err != nil {
		return api.ClientStatus{}, err
	}
	st, err := g.gw.Start(ctx, c)
	if err != nil {
		return st, err
	}
	if err := g.save(""); err != nil {
		return api.ClientStatus{}, g.undone("start client "+c.Bond, err, g.gw.Stop(context.WithoutCancel(ctx), c.Bond))
	}
	return st, nil
}

// Stop stops a client, or ends the retries of a pending one: either way
// it leaves the desired state, which is saved first: a stop that cannot
// be saved changes nothing.
func (g gatewayRole) Stop(ctx context.Context, name string) error {
	if err := g.save(clientKey(name)); err != nil {
		return fmt.Errorf("stop client %s: %w; nothing was changed", name, err)
	}
	if ok, err := g.stopPending(ctx, clientKey(name)); ok {
		return err
	}
	err := g.gw.Stop(ctx, name)
	g.keepSaved()
	return err
}

// Status lists the running clients and the pending ones.
func (g gatewayRole) Status(ctx context.Context) []api.ClientStatus {
	out := append(g.gw.Status(ctx), g.pendingClients()...)
	sort.Slice(out, func(i, j int) bool { return out[i].Bond < out[j].Bond })
	return out
}

func (g gatewayRole) BondParams(ctx context.Context, name string) (api.BondInfo, error) {
	return g.gw.BondParams(ctx, name)
}

// SetBondParams changes a bond's parameters and saves them; parameters
// that cannot be saved are set back to those in force before.
func (g gatewayRole) SetBondParams(ctx context.Context, name string, p api.BondParams) (api.BondInfo, error) {
	before, err := g.gw.BondParams(ctx, name)
	if err != nil {
		return api.BondInfo{}, err
	}
	info, err := g.gw.SetBondParams(ctx, name, p)
	if err != nil {
		return info, err
	}
	if err := g.save(""); err != nil {
		_, undoErr := g.gw.SetBondParams(context.WithoutCancel(ctx), name, bond.Desired(before))
		return api.BondInfo{}, g.undone("set the parameters of bond "+name, err, undoErr)
	}
	return info, nil
}

func (g gatewayRole) Rotate(ctx context.Context, name string) (api.Rotation, error) {
	return g.gw.Rotate(ctx, name)
}
