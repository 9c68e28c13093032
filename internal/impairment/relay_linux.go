package impairment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/nsthread"
	"github.com/vishvananda/netns"
)

// readErrorBackoff is the pause after a failed read (an interface going
// down), so a persistent error cannot spin a core.
const readErrorBackoff = 10 * time.Millisecond

// Options configure a Relay.
type Options struct {
	// NS is the network namespace of A and B. Zero (or netns.None()) with
	// an empty NSPath means the process's own namespace. New does not
	// close it.
	NS netns.NsHandle
	// NSPath names the namespace by path instead (/var/run/netns/NAME).
	NSPath string
	// A and B are the two interfaces, usually veth ends without addresses.
	A, B string
	// Seed makes loss and jitter reproducible; 0 picks a random seed
	// (Relay.Seed tells which).
	Seed uint64
	// QueueLen bounds each direction's FIFO in frames; 0 means
	// DefaultQueueLen.
	QueueLen int
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Relay forwards frames between two interfaces and impairs each direction.
// Its methods are safe for concurrent use.
type Relay struct {
	log   *slog.Logger
	seed  uint64
	ports [2]*port // A, B
	dirs  [2]*direction

	mu        sync.Mutex // serialises setters' read-modify-write
	cancel    context.CancelFunc
	stopAfter func() bool
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New opens packet sockets on A and B inside the namespace and starts
// forwarding, unimpaired, until Close or until ctx ends.
func New(ctx context.Context, o Options) (*Relay, error) {
	if o.A == "" || o.B == "" || o.A == o.B {
		return nil, errkind.Invalid("interfaces", "need two different interfaces, got %q and %q", o.A, o.B)
	}
	if o.QueueLen < 0 {
		return nil, errkind.Invalid("queue_len", "must not be negative, got %d", o.QueueLen)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	ports, err := openPorts(o)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	r := &Relay{
		log:    log.With("a", o.A, "b", o.B),
		seed:   seed,
		ports:  ports,
		dirs:   [2]*direction{newDirection(AtoB, seed, o.QueueLen), newDirection(BtoA, seed, o.QueueLen)},
		cancel: cancel,
	}
	for _, d := range r.dirs {
		in, out := r.ports[d.dir], r.ports[1-d.dir]
		r.wg.Add(2)
		go func() {
			defer r.wg.Done()
			r.read(runCtx, d, in)
		}()
		go func() {
			defer r.wg.Done()
			d.run(runCtx, r.log, out.send)
		}()
	}
	r.mu.Lock()
	r.stopAfter = context.AfterFunc(ctx, func() { _ = r.Close() })
	r.mu.Unlock()
	r.log.Info("relay started", "seed", seed)
	return r, nil
}

// openPorts opens both sockets on one thread inside the namespace.
func openPorts(o Options) ([2]*port, error) {
	var ports [2]*port
	ns := o.NS
	if o.NSPath != "" {
		h, err := netns.GetFromPath(o.NSPath)
		if err != nil {
			return ports, fmt.Errorf("open netns %s: %w", o.NSPath, err)
		}
		defer h.Close()
		ns = h
	} else if ns == 0 {
		ns = netns.None()
	}
	err := nsthread.In(ns, func() error {
		a, err := openPort(o.A)
		if err != nil {
			return err
		}
		b, err := openPort(o.B)
		if err != nil {
			a.close()
			return err
		}
		ports = [2]*port{a, b}
		return nil
	})
	if err != nil {
		return ports, fmt.Errorf("open relay sockets: %w", err)
	}
	return ports, nil
}

// read hands every frame arriving on in to direction d, until ctx ends.
func (r *Relay) read(ctx context.Context, d *direction, in *port) {
	buf := make([]byte, vnetHdrLen+recvBufLen)
	backoff := time.NewTimer(time.Hour)
	backoff.Stop()
	defer backoff.Stop()
	for {
		got, err := in.recv(buf)
		now := time.Now()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if n := d.c.readErr.Add(1); n&(n-1) == 0 {
				r.log.Warn("read frame", "dir", d.dir, "errors", n, "err", err)
			}
			backoff.Reset(readErrorBackoff)
			select {
			case <-ctx.Done():
				return
			case <-backoff.C:
			}
			continue
		}
		switch {
		case got.outgoing:
			continue
		case got.trunc:
			d.c.oversize.Add(1)
			continue
		}
		if buf[1] != vnetGSONone {
			d.c.gso.Add(1)
		}
		// DATA_VALID is for reads only; the far end checks the sum again.
		buf[0] &^= vnetFlagDataValid
		data := make([]byte, got.n)
		copy(data, buf[:got.n])
		d.admit(now, data, got.n-vnetHdrLen)
	}
}

// Set replaces direction d's impairment; frames that arrive afterwards get
// it (a cut also drops frames already in flight).
func (r *Relay) Set(d Direction, im Impairment) error {
	if err := d.valid(); err != nil {
		return err
	}
	if err := im.Validate(); err != nil {
		return fmt.Errorf("set %s impairment: %w", d, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dirs[d].imp.Store(&im)
	r.log.Info("impairment set", "dir", d, "impairment", im.String())
	return nil
}

// SetBoth gives both directions the same impairment.
func (r *Relay) SetBoth(im Impairment) error {
	return errors.Join(r.Set(AtoB, im), r.Set(BtoA, im))
}

// Impairment returns direction d's impairment in force.
func (r *Relay) Impairment(d Direction) Impairment {
	if d.valid() != nil {
		return Impairment{}
	}
	return *r.dirs[d].imp.Load()
}

// Cut cuts (true) or restores (false) both directions, keeping their
// other settings, like pulling and replugging the cable.
func (r *Relay) Cut(cut bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.dirs {
		im := *d.imp.Load()
		im.Cut = cut
		d.imp.Store(&im)
	}
	r.log.Info("link cut", "cut", cut)
}

// Stats returns both directions' counters.
func (r *Relay) Stats() Stats {
	return Stats{AtoB: r.dirs[AtoB].c.snapshot(), BtoA: r.dirs[BtoA].c.snapshot()}
}

// Seed returns the seed of the loss and jitter draws.
func (r *Relay) Seed() uint64 { return r.seed }

// Close stops forwarding, closes the sockets and waits for the relay's
// goroutines; frames still queued are discarded. It is idempotent.
func (r *Relay) Close() error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		if r.stopAfter != nil {
			r.stopAfter()
		}
		r.mu.Unlock()
		r.cancel()
		// Closing the files wakes reads and writes parked in the poller.
		for _, p := range r.ports {
			r.closeErr = errors.Join(r.closeErr, p.close())
		}
		r.wg.Wait()
		r.log.Info("relay stopped")
	})
	return r.closeErr
}
