package apilisten

import (
	"crypto/tls"
	"log/slog"
	"net"
	"time"
)

const (
	// defaultPeekTimeout is how long a new connection may take to send
	// its first byte when Options.PeekTimeout is not set.
	defaultPeekTimeout = 10 * time.Second
	// defaultMaxPending bounds the connections held by the listener
	// (waiting for their first byte, being refused, or waiting for Accept).
	defaultMaxPending = 256
	// lingerTimeout bounds how long a refused connection is drained after
	// the answer, so the client reads the answer rather than a reset.
	lingerTimeout = time.Second
	// maxDrain bounds the bytes read from a refused connection.
	maxDrain = 64 << 10
	// maxWarned bounds the remotes remembered for logging refusals once.
	maxWarned = 1024
	// tlsHandshake is the first byte of a TLS handshake record.
	tlsHandshake = 0x16
)

// Options configures the listener New returns.
type Options struct {
	// TLS serves the connections that open with a TLS handshake. Nil
	// means plain HTTP only, from everywhere (the operator's
	// --insecure-plain-http without TLS): New returns the inner listener.
	TLS *tls.Config
	// AllowPlain serves plain HTTP from any address, not only loopback.
	AllowPlain bool
	// Logger receives the refusals (Warn, once per remote) and the
	// dropped connections (Debug). Nil means slog.Default().
	Logger *slog.Logger
	// PeekTimeout is how long a connection may take to send its first
	// byte before it is closed. Zero or less means 10 s.
	PeekTimeout time.Duration
}

// options holds what tests override.
type options struct {
	// isLoopback tells whether a remote address is local.
	isLoopback func(addr net.Addr) bool
	// maxPending bounds the connections held by the listener.
	maxPending int
}
