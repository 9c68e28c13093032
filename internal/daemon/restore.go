package daemon

import (
	"cmp"
	"context"
	"time"

	"github.com/multilink/multilink/api"

	"github.com/multilink/multilink/internal/config"
)

// Bounds of the wait between two starts of a pending entry.
const (
	retryMin = 2 * time.Second
	retryMax = 60 * time.Second
)

// backoff bounds the wait between two starts of a pending entry: min
// after the first failure, doubling up to max.
type backoff struct{ min, max time.Duration }

// next is the wait after cur.
func (b backoff) next(cur time.Duration) time.Duration { return min(2*cur, b.max) }

// desired merges the saved state with the config file: an entry of the
// config file replaces a saved one of the same name (the file is what the
// operator declares now), saved entries the file does not name stay.
func desired(saved, file config.File) config.File {
	out := config.File{}
	// A server saved before tunnel modes ran the spec's static key, which
	// its gateways hold: it keeps it. A config file entry that names no
	// mode keeps the mode its bridge ran with (a new bridge: TLS).
	savedMode := map[string]string{}
	for _, s := range saved.Servers {
		savedMode[s.BridgeInterface] = cmp.Or(s.TunnelMode, api.TunnelStatic)
	}
	servers := map[string]bool{}
	for _, s := range file.Servers {
		servers[s.BridgeInterface] = true
		if s.TunnelMode == "" {
			s.TunnelMode = savedMode[s.BridgeInterface]
		}
		out.Servers = append(out.Servers, s)
	}
	for _, s := range saved.Servers {
		if !servers[s.BridgeInterface] {
			s.TunnelMode = savedMode[s.BridgeInterface]
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

// restore starts every desired server, then every desired client. One
// that fails, whatever the error, stays desired: it is kept pending and
// retried in the background (see pending) until ctx ends.
func (r *roles) restore(ctx context.Context, want config.File) {
	for _, s := range want.Servers {
		if _, err := r.hub.Start(ctx, s); err != nil {
			r.keep(ctx, &pending{server: &s}, err)
		}
	}
	for _, c := range want.Clients {
		if _, err := r.gw.Start(ctx, c); err != nil {
			r.keep(ctx, &pending{client: &c}, err)
		}
	}
	r.keepSaved()
}

// retryLoop starts p again after a backoff until it starts, it is stopped
// through the API (which cancels ctx) or the daemon stops (ctx ends).
func (r *roles) retryLoop(ctx context.Context, p *pending) {
	defer r.wg.Done()
	defer close(p.done)
	log := r.log.With("entry", p.key())
	wait := r.retry.min
	for {
		r.mu.Lock()
		p.next = time.Now().Add(wait)
		r.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		r.mu.Lock()
		p.next = time.Time{}
		r.mu.Unlock()

		err := r.start(ctx, p)

		r.mu.Lock()
		stopped := p.stopped
		switch {
		case err != nil:
			p.err, p.attempts = err, p.attempts+1
		case !stopped:
			delete(r.pending, p.key())
		}
		r.mu.Unlock()
		switch {
		case stopped && err == nil:
			// Stopped through the API while this start ran: it is no
			// longer desired, so what the start made goes.
			if err := r.stop(context.WithoutCancel(ctx), p); err != nil {
				log.Error("undo a start stopped meanwhile", "err", err)
			}
			r.keepSaved()
			return
		case stopped:
			return
		case err == nil:
			log.Info("restored after retry", "attempts", p.attempts+1)
			r.keepSaved()
			return
		case ctx.Err() != nil:
			return
		}
		wait = r.retry.next(wait)
		log.Warn("restore failed again; retrying", "in", wait, "attempts", p.attempts, "err", err)
	}
}
