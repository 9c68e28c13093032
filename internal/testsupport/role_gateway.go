package testsupport

import (
	"context"

	"github.com/multilink/multilink/api"
)

// FakeGateway is a fake client role: it has what restapi.Gateway asks
// for, and Configs and Close besides, as the daemon's clients do. Its
// calls are recorded ("gateway.Start bond0", "gateway.Stop bond0",
// "gateway.Status", "gateway.BondParams bond0", "gateway.SetBondParams
// bond0", "gateway.Configs", "gateway.Close"); its mode says what it keeps.
type FakeGateway struct {
	*role[api.Client, api.ClientStatus]
	params api.BondParams // the latest SetBondParams', under role.mu
}

// NewFakeGateway is a fake gateway recording into rec (nil: a Recorder of
// its own).
func NewFakeGateway(rec *Recorder, mode RoleMode) *FakeGateway {
	return &FakeGateway{role: newRole[api.Client](rec, "gateway", mode, func(bond string) api.ClientStatus {
		return api.ClientStatus{Bond: bond, Present: true, Active: "tap1", Links: []api.ClientLink{{Tap: "tap1", Running: true}}}
	})}
}

// Start starts a client of bond c.Bond.
func (g *FakeGateway) Start(_ context.Context, c api.Client) (api.ClientStatus, error) {
	if err := g.start(c.Bond, c); err != nil {
		return api.ClientStatus{}, err
	}
	return api.ClientStatus{Bond: c.Bond, Address: c.Address.String(), Present: true}, nil
}

// Stop stops the client of bond name.
func (g *FakeGateway) Stop(_ context.Context, name string) error { return g.stop(name) }

// Status lists the clients.
func (g *FakeGateway) Status(context.Context) []api.ClientStatus { return g.list() }

// Rotate answers that tap1 and tap2 were renewed.
func (g *FakeGateway) Rotate(_ context.Context, name string) (api.Rotation, error) {
	if err := g.rec.Record("gateway.Rotate %s", name); err != nil {
		return api.Rotation{}, err
	}
	return api.Rotation{Bond: name, TunnelMode: api.TunnelStatic, Links: []api.RotatedLink{{Tap: "tap2"}, {Tap: "tap1", SwitchedTo: "tap2"}}}, nil
}

// BondParams answers a bond of tap1 and tap2 with the default parameters.
func (g *FakeGateway) BondParams(_ context.Context, name string) (api.BondInfo, error) {
	if err := g.rec.Record("gateway.BondParams %s", name); err != nil {
		return api.BondInfo{}, err
	}
	return bondInfo(name, api.Defaults()), nil
}

// SetBondParams keeps p (LastParams) and answers the defaults with p put
// over them.
func (g *FakeGateway) SetBondParams(_ context.Context, name string, p api.BondParams) (api.BondInfo, error) {
	err := g.rec.Record("gateway.SetBondParams %s", name)
	g.mu.Lock()
	g.params = p
	g.mu.Unlock()
	if err != nil {
		return api.BondInfo{}, err
	}
	return bondInfo(name, api.Defaults().Merge(p)), nil
}

// LastParams are the parameters the latest SetBondParams was given.
func (g *FakeGateway) LastParams() api.BondParams {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.params
}

// Configs are the bodies of the running clients (Tracking).
func (g *FakeGateway) Configs() []api.Client { return g.configs() }

// Close ends nothing: it is recorded.
func (g *FakeGateway) Close(context.Context) error { return g.rec.Record("gateway.Close") }

// Leave records the call.
func (g *FakeGateway) Leave(context.Context) error { return g.rec.Record("gateway.Leave") }

// Interfaces lists the bonds started and their TAPs.
func (g *FakeGateway) Interfaces() []string {
	var out []string
	for _, c := range g.configs() {
		out = append(append(out, c.Bond), c.Taps()...)
	}
	return out
}

// SweepRoutes records the call.
func (g *FakeGateway) SweepRoutes() error { return g.rec.Record("gateway.SweepRoutes") }

// bondInfo is a kernel bond name of tap1 and tap2, tap1 active, with p.
func bondInfo(name string, p api.BondParams) api.BondInfo {
	return api.BondInfo{Name: name, Driver: "kernel", Up: true, Slaves: []string{"tap1", "tap2"}, Active: "tap1", Params: p}
}
