package daemon

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// pending is a desired server or client that does not run: its start at
// boot failed (a hub not reachable yet, a hw_int that appears later,
// openvpn missing, a name taken). It stays in the desired state and is
// retried with backoff until it starts, it is stopped through the API, or
// the daemon stops. Only an API stop removes it.
type pending struct {
	server *api.Server // exactly one of server and client is set
	client *api.Client

	// Guarded by roles.mu.
	err      error     // the last start's error
	attempts int       // starts tried
	next     time.Time // when the next start is due; zero while one runs
	stopped  bool      // stopped through the API: undo a start that succeeds now

	cancel context.CancelFunc // ends the retry loop and a start under way
	done   chan struct{}      // closed when the retry loop has ended
}

func serverKey(bridge string) string { return "server/" + bridge }
func clientKey(bond string) string   { return "client/" + bond }

// key names the entry as /health does: server/<bridge> or client/<bond>.
func (p *pending) key() string {
	if p.server != nil {
		return serverKey(p.server.BridgeInterface)
	}
	return clientKey(p.client.Bond)
}

// start starts the entry's server or client.
func (r *roles) start(ctx context.Context, p *pending) error {
	if p.server != nil {
		_, err := r.hub.Start(ctx, *p.server)
		return err
	}
	_, err := r.gw.Start(ctx, *p.client)
	return err
}

// stop stops what start started.
func (r *roles) stop(ctx context.Context, p *pending) error {
	if p.server != nil {
		return r.hub.Stop(ctx, p.server.BridgeInterface)
	}
	return r.gw.Stop(ctx, p.client.Bond)
}

// keep makes p pending after its start failed with err, and retries it
// in the background until ctx ends.
func (r *roles) keep(ctx context.Context, p *pending, err error) {
	r.log.Error("restore failed; kept in the desired state and retried", "entry", p.key(), "err", err)
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	p.err, p.attempts = err, 1
	r.mu.Lock()
	r.pending[p.key()] = p
	r.mu.Unlock()
	r.wg.Add(1)
	go r.retryLoop(ctx, p)
}

// notPending refuses a start of an entry that is pending: it is in the
// desired state already, with the configuration it was saved with.
func (r *roles) notPending(key string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.pending[key]; ok {
		return errkind.Conflict("%s is in the desired state but not running yet (%v); it is retried: stop it first to start it anew", key, p.err)
	}
	return nil
}

// stopPending removes a pending entry from the desired state: it ends its
// retries and waits for a start under way, which it undoes. ok reports
// whether key was pending.
func (r *roles) stopPending(ctx context.Context, key string) (ok bool, err error) {
	r.mu.Lock()
	p, ok := r.pending[key]
	if ok {
		delete(r.pending, key)
		p.stopped = true
		p.cancel()
	}
	r.mu.Unlock()
	if !ok {
		return false, nil
	}
	defer r.keepSaved()
	select {
	case <-p.done:
	case <-ctx.Done():
		return true, fmt.Errorf("stop %s while its start ends: %w", key, ctx.Err())
	}
	r.log.Info("pending entry stopped", "entry", key)
	return true, nil
}

// stopRetries ends every retry loop and waits for them (daemon shutdown):
// none starts anything afterwards. The entries stay in the desired state.
func (r *roles) stopRetries() {
	r.mu.Lock()
	for _, p := range r.pending {
		p.cancel()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// why says why a pending entry does not run, for status and health.
func (r *roles) why(p *pending, now time.Time) string {
	when := "a start is under way"
	if !p.next.IsZero() {
		when = "next attempt in " + p.next.Sub(now).Round(time.Second).String()
	}
	return fmt.Sprintf("not running: %d failed starts (%s): %v", p.attempts, when, p.err)
}

// pendingList returns the pending entries, by key, and why each waits.
func (r *roles) pendingList() (list []*pending, why []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for _, p := range r.pending {
		list = append(list, p)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].key() < list[j].key() })
	for _, p := range list {
		why = append(why, r.why(p, now))
	}
	return list, why
}

// pendingServers are the pending servers as status shows them.
func (r *roles) pendingServers() []api.ServerStatus {
	var out []api.ServerStatus
	list, why := r.pendingList()
	for i, p := range list {
		if s := p.server; s != nil {
			st := api.ServerStatus{Bridge: s.BridgeInterface, BridgeIP: s.BridgeIP.Addr().String(), Pending: why[i]}
			for j, tap := range s.Taps() {
				st.Links = append(st.Links, api.ServerLink{Tap: tap, Port: s.Port(j + 1)})
			}
			out = append(out, st)
		}
	}
	return out
}

// pendingClients are the pending clients as status shows them.
func (r *roles) pendingClients() []api.ClientStatus {
	var out []api.ClientStatus
	list, why := r.pendingList()
	for i, p := range list {
		if c := p.client; c != nil {
			st := api.ClientStatus{Bond: c.Bond, Address: c.Address.String(), ServerAPIURL: api.RedactURL(c.ServerAPIURL), Pending: why[i]}
			for j, tap := range c.Taps() {
				s := c.Slaves[j]
				st.Links = append(st.Links, api.ClientLink{Tap: tap, HWInt: s.HWInt, IPServer: s.IPServer.String()})
			}
			out = append(out, st)
		}
	}
	return out
}
