package tunnel

import "time"

// backoff is the delay before restarting a process that exited: min after
// the first exit, doubling on each further one up to max, and back to min
// once a run lasted stable or longer.
type backoff struct {
	min, max, stable time.Duration
	cur              time.Duration
}

// next returns the delay before the next start, given how long the run
// that just ended lasted.
func (b *backoff) next(ran time.Duration) time.Duration {
	switch {
	case b.cur == 0 || ran >= b.stable:
		b.cur = b.min
	case b.cur < b.max:
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

// strayGrace is how long a stray openvpn has after SIGTERM before
// SIGKILL. SIGTERM makes it send its exit notification at once (the peer
// has it within milliseconds and starts a new session); in TLS mode it
// then lingers 2 s, for a retransmission its control channel would only
// send after tls-timeout (2 s). Those 2 s delay the new daemon's tunnels
// and so the peer's new session: a quarter of a second is enough.
const strayGrace = 250 * time.Millisecond
