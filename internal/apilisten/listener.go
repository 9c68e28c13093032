package apilisten

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
)

// listener is the net.Listener New returns.
type listener struct {
	inner  net.Listener
	opts   Options
	o      options
	log    *slog.Logger
	answer []byte // the refusal sent to plain clients that may not use it

	ready    chan net.Conn // peeked connections for Accept
	errs     chan error    // temporary errors of the inner Accept
	done     chan struct{} // closed by Close
	loopDone chan struct{} // closed when the accept loop stops on its own
	loopErr  error         // why it stopped; set before loopDone is closed
	slots    chan struct{} // one per held connection

	saturated atomic.Bool // the slots were full; logged once until one frees

	mu      sync.Mutex
	closed  bool
	pending map[net.Conn]struct{} // held connections, closed by Close
	warned  map[string]struct{}   // remotes whose refusal was logged
	wg      sync.WaitGroup        // the accept loop and the per-connection goroutines

	closeOnce sync.Once
	closeErr  error
}

// New returns a listener over inner that serves TLS to the connections
// that open with a TLS handshake and plain HTTP to the others when they
// come from loopback or o.AllowPlain is set; it answers the remaining
// ones with a 400 telling them to use TLS, and closes them. With o.TLS
// nil, everything is plain and allowed: New returns inner itself.
func New(inner net.Listener, o Options) net.Listener {
	if o.TLS == nil {
		return inner
	}
	return newListener(inner, o, options{isLoopback: isLoopback, maxPending: defaultMaxPending})
}

// newListener is New with the test overrides; it starts the accept loop.
func newListener(inner net.Listener, o Options, opt options) *listener {
	if o.PeekTimeout <= 0 {
		o.PeekTimeout = defaultPeekTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if opt.maxPending <= 0 {
		opt.maxPending = defaultMaxPending
	}
	l := &listener{
		inner:    inner,
		opts:     o,
		o:        opt,
		log:      o.Logger.With("listen", inner.Addr().String()),
		answer:   refusal(),
		ready:    make(chan net.Conn),
		errs:     make(chan error),
		done:     make(chan struct{}),
		loopDone: make(chan struct{}),
		slots:    make(chan struct{}, opt.maxPending),
		pending:  make(map[net.Conn]struct{}),
		warned:   make(map[string]struct{}),
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

// Accept returns the next connection ready to be served: a *tls.Conn
// (handshake not yet done) or a plain connection. After Close it returns
// an error that matches net.ErrClosed.
func (l *listener) Accept() (net.Conn, error) {
	select {
	case <-l.done:
		return nil, l.closedErr()
	default:
	}
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errs:
		// Unwrapped: http.Server retries on a net.Error's Temporary().
		return nil, err
	case <-l.loopDone:
		return nil, l.loopErr
	case <-l.done:
		return nil, l.closedErr()
	}
}

// Close closes the inner listener and the connections not yet returned
// by Accept, unblocks Accept, and waits for the listener's goroutines.
func (l *listener) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		held := l.pending
		l.pending = nil
		l.mu.Unlock()
		close(l.done)
		if err := l.inner.Close(); err != nil {
			l.closeErr = fmt.Errorf("closing inner listener: %w", err)
		}
		for c := range held {
			_ = c.Close()
		}
		l.wg.Wait()
	})
	return l.closeErr
}

// Addr returns the inner listener's address.
func (l *listener) Addr() net.Addr {
	return l.inner.Addr()
}

// closedErr is what Accept returns after Close.
func (l *listener) closedErr() error {
	return &net.OpError{Op: "accept", Net: l.inner.Addr().Network(), Addr: l.inner.Addr(), Err: net.ErrClosed}
}

// isClosed tells whether Close was called.
func (l *listener) isClosed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// acceptLoop accepts from inner and hands each connection to a goroutine
// that peeks at it, until Close or a permanent error.
func (l *listener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.inner.Accept()
		if err != nil {
			if l.isClosed() {
				return
			}
			if isTemporary(err) {
				select {
				case l.errs <- err:
					continue
				case <-l.done:
					return
				}
			}
			l.loopErr = err
			close(l.loopDone)
			return
		}
		l.dispatch(c)
	}
}

// isTemporary tells whether an Accept error is worth retrying, the way
// http.Server decides.
func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// dispatch takes a slot for c and peeks at it in a goroutine; with no
// slot free, or after Close, it closes c.
func (l *listener) dispatch(c net.Conn) {
	select {
	case l.slots <- struct{}{}:
		l.saturated.Store(false)
	default:
		if !l.saturated.Swap(true) {
			l.log.Warn("too many connections awaiting their first byte; closing new ones",
				"limit", cap(l.slots), "remote", addrString(c.RemoteAddr()))
		}
		_ = c.Close()
		return
	}
	if !l.track(c) {
		<-l.slots
		_ = c.Close()
		return
	}
	go l.handle(c)
}

// track records c as held (Close closes it) and counts its goroutine;
// false after Close.
func (l *listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.pending[c] = struct{}{}
	l.wg.Add(1)
	return true
}

// untrack forgets c before it is handed to Accept; false after Close,
// which closed c already.
func (l *listener) untrack(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	delete(l.pending, c)
	return true
}
