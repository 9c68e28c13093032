package daemon

import (
	"context"
	"time"

	"github.com/multilink/multilink/config"
	"github.com/multilink/multilink/fault"
)

// Retry bounds for clients whose hub cannot be reached at boot.
const (
	retryMin = 2 * time.Second
	retryMax = 60 * time.Second
)

// desired merges the saved state with the config file: an entry of the
// config file replaces a saved one of the same name (the file is what the
// operator declares now), saved entries the file does not name stay.
func desired(saved, file config.File) config.File {
	out := config.File{}
	servers := map[string]bool{}
	for _, s := range file.Servers {
		servers[s.BridgeInterface] = true
		out.Servers = append(out.Servers, s)
	}
	for _, s := range saved.Servers {
		if !servers[s.BridgeInterface] {
			out.Servers = append(out.Servers, s)
		}
	}
	clients := map[string]bool{}
	for _, c := range file.Clients {
		clients[c.Bond] = true
		out.Clients = append(out.Clients, c)
	}
	for _, c := range saved.Clients {
		if !clients[c.Bond] {
			out.Clients = append(out.Clients, c)
		}
	}
	return out
}

// restore starts every desired server, then every desired client. A client
// whose hub cannot be reached yet is retried in the background with
// backoff until it starts, is stopped through the API, or ctx ends.
func (r *roles) restore(ctx context.Context, want config.File) {
	for _, s := range want.Servers {
		if _, err := r.hub.Start(ctx, s); err != nil {
			r.log.Error("restore server", "bridge", s.BridgeInterface, "err", err)
		}
	}
	for _, c := range want.Clients {
		if _, err := r.gw.Start(ctx, c); err != nil {
			r.log.Warn("restore client", "bond", c.Bond, "err", err)
			if fault.KindOf(err) == fault.KindUnavailable {
				r.addPending(c)
				go r.retry(ctx, c)
			}
		}
	}
	r.save()
}

func (r *roles) addPending(c config.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending[c.Bond] = c
}

// takePending removes a pending client; it reports whether there was one.
func (r *roles) takePending(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.pending[name]
	delete(r.pending, name)
	return ok
}

func (r *roles) isPending(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.pending[name]
	return ok
}

func (r *roles) retry(ctx context.Context, c config.Client) {
	log := r.log.With("bond", c.Bond)
	wait := retryMin
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if !r.isPending(c.Bond) {
			return // stopped through the API meanwhile
		}
		_, err := r.gw.Start(ctx, c)
		if err == nil {
			r.takePending(c.Bond)
			r.save()
			log.Info("client restored after retry")
			return
		}
		if fault.KindOf(err) != fault.KindUnavailable {
			log.Error("give up restoring client", "err", err)
			r.takePending(c.Bond)
			r.save()
			return
		}
		log.Warn("hub still unreachable, will retry", "in", wait, "err", err)
		wait = min(wait*2, retryMax)
	}
}
