package apilisten

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"
)

// refusalMessage is the error a plain-HTTP client gets when it may not
// use plain HTTP.
const refusalMessage = "this API speaks TLS: use https:// with the hub's pin " +
	"(server_api_pin, printed by `multilink fingerprint` on the hub), " +
	"or allow plain http on the hub: daemon flag --insecure-plain-http, chart value api.insecurePlainHttp " +
	"(tokens and keys then cross the network in cleartext)"

// refusal returns the whole HTTP/1.1 answer sent to a refused client.
func refusal() []byte {
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{refusalMessage}) // a struct of one string always marshals
	body = append(body, '\n')
	head := fmt.Sprintf("HTTP/1.1 400 Bad Request\r\n"+
		"Content-Type: application/json\r\n"+
		"Content-Length: %d\r\n"+
		"Connection: close\r\n\r\n", len(body))
	return append([]byte(head), body...)
}

// refuse answers c with the refusal and closes it: it writes the answer,
// shuts down the writing side, and drains what the client sent for a
// short while, so the client reads the answer rather than a reset.
func (l *listener) refuse(c net.Conn) {
	defer c.Close()
	l.warnOnce(c.RemoteAddr())
	if err := c.SetWriteDeadline(time.Now().Add(l.opts.PeekTimeout)); err != nil {
		l.log.Debug("refusing plain HTTP", "remote", addrString(c.RemoteAddr()), "err", fmt.Errorf("setting write deadline: %w", err))
		return
	}
	if _, err := c.Write(l.answer); err != nil {
		l.log.Debug("refusing plain HTTP", "remote", addrString(c.RemoteAddr()), "err", fmt.Errorf("writing answer: %w", err))
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	if err := c.SetReadDeadline(time.Now().Add(lingerTimeout)); err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c, maxDrain))
}

// warnOnce logs the refusal of a remote at Warn, the first time only
// (per IP; the memory is bounded and starts over when full).
func (l *listener) warnOnce(remote net.Addr) {
	key := remoteKey(remote)
	l.mu.Lock()
	_, seen := l.warned[key]
	if !seen {
		if len(l.warned) >= maxWarned {
			clear(l.warned)
		}
		l.warned[key] = struct{}{}
	}
	l.mu.Unlock()
	if !seen {
		l.log.Warn("refused plain HTTP on the TLS API port; the client must use https:// or the daemon --insecure-plain-http",
			"remote", addrString(remote))
	}
}

// remoteKey is the IP of remote, without the port, or the whole address
// when it is not IP.
func remoteKey(remote net.Addr) string {
	s := addrString(remote)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().String()
	}
	return s
}

// addrString is a.String(), or "" for a nil address.
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
