package apilisten

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// handle peeks at c, decides how it is served, and hands it to Accept,
// or refuses it.
func (l *listener) handle(c net.Conn) {
	defer l.wg.Done()
	defer func() { <-l.slots }()
	out, ok := l.classify(c)
	if !l.untrack(c) || !ok {
		return
	}
	select {
	case l.ready <- out:
	case <-l.done:
		_ = out.Close()
	}
}

// classify returns the connection to serve for c, TLS or plain, with the
// peeked byte kept; false when c was dropped or refused (and closed).
func (l *listener) classify(c net.Conn) (net.Conn, bool) {
	first, err := l.peek(c)
	if err != nil {
		l.log.Debug("dropping connection", "remote", addrString(c.RemoteAddr()), "err", err)
		_ = c.Close()
		return nil, false
	}
	pc := &peekedConn{Conn: c, first: first, unread: true}
	if first == tlsHandshake {
		return tls.Server(pc, l.opts.TLS), true
	}
	if l.opts.AllowPlain || l.o.isLoopback(c.RemoteAddr()) {
		return pc, true
	}
	l.refuse(c)
	return nil, false
}

// peek reads the first byte of c within the peek timeout, then clears
// the read deadline.
func (l *listener) peek(c net.Conn) (byte, error) {
	if err := c.SetReadDeadline(time.Now().Add(l.opts.PeekTimeout)); err != nil {
		return 0, fmt.Errorf("setting peek deadline: %w", err)
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, fmt.Errorf("reading first byte: %w", err)
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return 0, fmt.Errorf("clearing peek deadline: %w", err)
	}
	return b[0], nil
}

// peekedConn is a connection whose first byte was read already: Read
// returns it first.
type peekedConn struct {
	net.Conn
	first  byte
	unread bool
}

// Read returns the peeked byte, then reads from the connection.
func (c *peekedConn) Read(p []byte) (int, error) {
	if !c.unread {
		return c.Conn.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = c.first
	c.unread = false
	return 1, nil
}

// CloseWrite shuts down the writing side when the connection can (TCP),
// as net/http does before closing.
func (c *peekedConn) CloseWrite() error {
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !ok {
		return errors.New("closing write side: not supported by the connection")
	}
	if err := cw.CloseWrite(); err != nil {
		return fmt.Errorf("closing write side: %w", err)
	}
	return nil
}
