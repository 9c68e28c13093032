package tunnel

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/multilink/multilink/internal/errkind"
)

// Keepalive (Spec.Keepalive): by default OpenVPN's usual 10 s / 60 s. It
// keeps NAT state alive on an idle link and restarts a silent session; it
// does not watch liveness: the probe does (an ARP probe through every
// tunnel, every 20 ms on the active link), far faster. A ping every second
// would cost a standby link about 20 MB a day for nothing.
const (
	// minPingRestart (s): a session is restarted after max(this, 4 pings)
	// of silence.
	minPingRestart = 60
	// handWindow (s) bounds a TLS handshake: a few round trips, even over
	// a slow radio link or an emulated CPU.
	handWindow = 15
)

// Render writes the OpenVPN config file of s for openvpn v; it checks s
// first. TLS mode needs OpenVPN 2.6 (--peer-fingerprint, p2p cipher
// negotiation): an older one is errkind.Unsupported.
func Render(s Spec, v Version) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("render config of %s: %w", s.Tap, err)
	}
	var c conf
	writeCommon(&c, s, v)
	if s.mode() == ModeTLS {
		if !v.AtLeast(2, 6) {
			return nil, errkind.Unsupported(nil, "OpenVPN %s has no --peer-fingerprint: tunnel mode %q needs OpenVPN 2.6 or later; "+
				"install it on both ends, or run the hub's bridge in the spec's static-key mode (server tunnel_mode %q)", v, ModeTLS, ModeStatic)
		}
		writeTLS(&c, s)
		return c.Bytes(), nil
	}
	writeStatic(&c, s, v)
	return c.Bytes(), nil
}

// writeStatic writes p2p static-key mode (--secret), the server with key
// direction 0, the client with 1.
func writeStatic(c *conf, s Spec, v Version) {
	dir := "0"
	if s.Role == Client {
		dir = "1"
	}
	c.line("secret", s.KeyFile, dir)
	c.line("cipher", Cipher)
	c.line("auth", Auth)
	if v.AtLeast(2, 7) {
		c.line("allow-deprecated-insecure-static-crypto")
	}
}

// writeTLS writes p2p TLS mode: the server end is the TLS server; each
// end presents its own self-signed certificate and accepts only a peer
// certificate with one of s.PeerFingerprints (no CA); the data channel
// is AEAD, negotiated between 2.6 peers, and rekeyed every s.Rekey.
func writeTLS(c *conf, s Spec) {
	if s.Role == Server {
		c.line("tls-server")
		c.line("dh", "none") // ECDHE only
	} else {
		c.line("tls-client")
	}
	c.line("cert", s.CertFile)
	c.line("key", s.CertKeyFile)
	c.WriteString("<peer-fingerprint>\n")
	for _, f := range s.PeerFingerprints {
		canon, _ := ParseFingerprint(f) // checked by s.check
		c.WriteString(canon + "\n")
	}
	c.WriteString("</peer-fingerprint>\n")
	// A TLS session is state: an end that exits tells the other at once,
	// which starts a new session instead of waiting for ping-restart; a
	// handshake that stalls (the peer restarted mid-way) is given up
	// after hand-window, not OpenVPN's 60 s.
	c.line("explicit-exit-notify", "1")
	c.line("hand-window", strconv.Itoa(handWindow))
	c.line("tls-version-min", "1.2")
	c.line("data-ciphers", DataCiphers)
	// The server end alone renegotiates: when the client end starts a
	// renegotiation the server goes on sending with a key the client
	// drops at its next one, and packets in flight are lost (OpenVPN
	// 2.6.14, measured by e2e/TestRekeyIsNotAnOutage: 3 of 1000 echoes);
	// started by the server, 0 or 1 of 1000.
	rekey := s.Rekey
	if rekey <= 0 {
		rekey = DefaultRekey
	}
	if s.Role == Client {
		rekey = 0
	}
	c.line("reneg-sec", strconv.Itoa(int(rekey/time.Second)))
}

// writeCommon writes what does not depend on the crypto mode: device,
// socket, keepalive, persistence, logging.
func writeCommon(c *conf, s Spec, v Version) {
	c.comment(fmt.Sprintf("%s end of %s, written by multilink: do not edit", s.Role, s.Tap))
	c.line("dev", s.Tap)
	c.line("dev-type", "tap")
	c.line("proto", "udp")
	switch s.Role {
	case Server:
		c.line("lport", strconv.Itoa(s.Port))
		c.line("bind")
		// Answer from the address the client sent to (IP_PKTINFO), not
		// from the outgoing interface's: a hub address reachable over two
		// underlays is not on either of them.
		c.line("multihome")
		// Follow the client to a new address (NAT rebinding, new uplink
		// address); packets are authenticated by the key.
		c.line("float")
		// Time out only once a peer was heard from.
		c.line("ping-timer-rem")
	case Client:
		c.line("remote", s.Remote.Unmap().String(), strconv.Itoa(s.Port))
		c.line("nobind")
	}
	if s.Device != "" {
		c.line("bind-dev", s.Device)
	}
	if s.Mark != 0 {
		c.line("mark", strconv.FormatUint(uint64(s.Mark), 10))
	}
	ping := DefaultKeepalive
	if s.Keepalive > 0 {
		ping = s.Keepalive
	}
	secs := int(ping / time.Second)
	c.line("ping", strconv.Itoa(secs))
	c.line("ping-restart", strconv.Itoa(max(minPingRestart, 4*secs)))
	c.line("persist-tun")
	c.line("persist-key")
	// Dropping needs OpenVPN 2.6 (it keeps CAP_NET_ADMIN then) and a
	// port a user may bind again after a restart.
	if s.User != "" && v.AtLeast(2, 6) && (s.Role == Client || s.Port >= 1024) {
		// Root only to start: read the keys, attach to the TAP, open the
		// socket. persist-tun and persist-key keep those across a restart;
		// the new socket's SO_MARK needs CAP_NET_ADMIN, which OpenVPN 2.6
		// keeps (libcap-ng), and SO_BINDTODEVICE needs nothing on Linux
		// 5.7 and later.
		c.line("user", s.User)
		c.line("group", s.Group)
	}
	c.line("verb", "3")
	c.line("suppress-timestamps")
}

// conf accumulates config file lines.
type conf struct{ bytes.Buffer }

func (c *conf) comment(s string) { c.WriteString("# " + s + "\n") }

func (c *conf) line(directive string, args ...string) {
	c.WriteString(directive)
	for _, a := range args {
		c.WriteString(" " + a)
	}
	c.WriteString("\n")
}
