package testsupport

import (
	"context"
	"fmt"

	"github.com/multilink/multilink/api"
)

// FakeHub is a fake server role: it has what restapi.Hub asks for, and
// Configs and Close besides, as the daemon's servers do. Its calls are
// recorded ("hub.Start br0", "hub.Stop br0", "hub.Status", "hub.Key br0",
// "hub.Configs", "hub.Close"); its mode says what it keeps.
type FakeHub struct {
	*role[api.Server, api.ServerStatus]
}

// NewFakeHub is a fake hub recording into rec (nil: a Recorder of its own).
func NewFakeHub(rec *Recorder, mode RoleMode) *FakeHub {
	return &FakeHub{newRole[api.Server](rec, "hub", mode, func(bridge string) api.ServerStatus {
		return api.ServerStatus{Bridge: bridge, Present: true, Links: []api.ServerLink{{Tap: "tap1", Running: true}}}
	})}
}

// Start starts a server of bridge c.BridgeInterface.
func (h *FakeHub) Start(_ context.Context, c api.Server) (api.ServerStatus, error) {
	if err := h.start(c.BridgeInterface, c); err != nil {
		return api.ServerStatus{}, err
	}
	return api.ServerStatus{Bridge: c.BridgeInterface, BridgeIP: c.BridgeIP.String(), Present: true}, nil
}

// Stop stops the server of bridge.
func (h *FakeHub) Stop(_ context.Context, bridge string) error { return h.stop(bridge) }

// Status lists the servers.
func (h *FakeHub) Status(context.Context) []api.ServerStatus { return h.list() }

// Key answers a link key of two TAPs whatever the bridge.
func (h *FakeHub) Key(_ context.Context, bridge string) (api.Key, error) {
	if err := h.rec.Record("hub.Key %s", bridge); err != nil {
		return api.Key{}, err
	}
	return api.Key{Bridge: "br0", Key: "-----BEGIN OpenVPN Static key V1-----", Links: []api.KeyLink{{Tap: "tap1", Port: 1191}}}, nil
}

// Claim answers Key's answer with the claimant as holder.
func (h *FakeHub) Claim(ctx context.Context, r api.ClaimRequest) (api.Key, error) {
	if err := h.rec.Record("hub.Claim %s %s/%s", r.Bridge, r.GatewayID, r.Bond); err != nil {
		return api.Key{}, err
	}
	k, _ := h.Key(ctx, r.Bridge)
	k.Holder = &api.Holder{GatewayID: r.GatewayID, Bond: r.Bond}
	return k, nil
}

// Release releases nobody.
func (h *FakeHub) Release(_ context.Context, bridge string, who *api.ReleaseRequest) (api.Released, error) {
	if err := h.rec.Record("hub.Release %s %t", bridge, who != nil); err != nil {
		return api.Released{}, err
	}
	return api.Released{Bridge: bridge}, nil
}

// Rotate answers link r.Link of bridge with a new fingerprint if r gave
// one, else with a new key.
func (h *FakeHub) Rotate(_ context.Context, bridge string, r api.RotateRequest) (api.KeyLink, error) {
	if err := h.rec.Record("hub.Rotate %s %d", bridge, r.Link); err != nil {
		return api.KeyLink{}, err
	}
	l := api.KeyLink{Tap: fmt.Sprintf("tap%d", r.Link), Port: 1190 + r.Link}
	if r.Fingerprint != "" {
		l.Fingerprint = r.Fingerprint
	} else {
		l.Key = "-----BEGIN OpenVPN Static key V1-----"
	}
	return l, nil
}

// Configs are the bodies of the running servers (Tracking).
func (h *FakeHub) Configs() []api.Server { return h.configs() }

// Close ends nothing: it is recorded.
func (h *FakeHub) Close(context.Context) error { return h.rec.Record("hub.Close") }

// Leave records the call.
func (h *FakeHub) Leave(context.Context) error { return h.rec.Record("hub.Leave") }

// Interfaces lists the bridges started and their TAPs.
func (h *FakeHub) Interfaces() []string {
	var out []string
	for _, s := range h.Configs() {
		out = append(append(out, s.BridgeInterface), s.Taps()...)
	}
	return out
}
