// Package apilisten lets the REST API port speak TLS by default while
// keeping plain HTTP for the clients that may use it.
//
// New wraps the API's TCP listener. Each accepted connection is peeked
// at its first byte: 0x16 (a TLS handshake record) is served with TLS;
// anything else is plain HTTP, served only when it comes from loopback
// (the local CLI, a local curl) or when the operator allowed plain HTTP
// from anywhere (Options.AllowPlain, the daemon's --insecure-plain-http).
// Any other plain-HTTP client gets a plain-HTTP answer it can read, 400
// with {"error": "..."} telling it to use https:// with the hub's pin
// (server_api_pin, printed by `multilink fingerprint`) or to start the
// daemon with --insecure-plain-http, and the connection is closed; it
// never reaches the HTTP server. The first refusal from each remote is
// logged at Warn.
//
// Peeking happens in a goroutine per connection, so a client that
// connects and sends nothing does not stall Accept for the others; it is
// dropped after Options.PeekTimeout. At most a bounded number of
// connections wait for their first byte (or for Accept) at once; beyond
// that, new ones are closed. Close closes the inner listener, the
// connections still held, and unblocks Accept with net.ErrClosed.
package apilisten
