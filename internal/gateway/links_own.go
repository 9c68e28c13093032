package gateway

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/tunnel"
)

// spec is the tunnel of c's link i: in TLS mode it presents the link's
// own certificate or the daemon's and accepts the hub's certificate of
// that link; in static mode it uses the link's own key or the bond's.
func (g *Gateway) spec(c *client, i int) tunnel.Spec {
	s, lr, l := c.cfg.Slaves[i], c.routes[i], c.links[i]
	sp := tunnel.Spec{Tap: c.cfg.Taps()[i], Role: tunnel.Client, Port: c.ports[i], Remote: s.IPServer, Device: s.HWInt, Mark: lr.mark}
	if c.mode != api.TunnelTLS {
		sp.Mode, sp.KeyFile = tunnel.ModeStatic, c.keyFile
		if l.keyFile != "" {
			sp.KeyFile = l.keyFile
		}
		return sp
	}
	id := g.opts.Identity
	if l.id.CertFile != "" {
		id = l.id
	}
	sp.Mode, sp.CertFile, sp.CertKeyFile, sp.PeerFingerprints = tunnel.ModeTLS, id.CertFile, id.KeyFile, []string{l.peer}
	return sp
}

// ownIdentities returns, per TAP, the certificate the link has of its
// own since a rotation (zero: none).
func (g *Gateway) ownIdentities(taps []string) ([]tunnel.Identity, error) {
	out := make([]tunnel.Identity, len(taps))
	if g.opts.LinkIdentityDir == "" {
		return out, nil
	}
	for i, tap := range taps {
		id, ok, err := tunnel.LinkIdentity(g.opts.LinkIdentityDir, tap)
		if err != nil {
			return nil, err
		}
		if ok {
			out[i] = id
		}
	}
	return out, nil
}

// fingerprints lists ids' fingerprints for a claim, nil if none has one.
func fingerprints(ids []tunnel.Identity) []string {
	var out []string
	for i, id := range ids {
		if id.Fingerprint != "" {
			if out == nil {
				out = make([]string, len(ids))
			}
			out[i] = id.Fingerprint
		}
	}
	return out
}

// forgetOwn removes the static keys c's links have of their own, and
// with identities their own certificates too.
func (g *Gateway) forgetOwn(c *client, identities bool) error {
	var errs []error
	for i, tap := range c.cfg.Taps() {
		if f := c.links[i].keyFile; f != "" {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove key of %s: %w", tap, err))
			}
		}
		if identities && g.opts.LinkIdentityDir != "" {
			errs = append(errs, tunnel.ForgetLinkIdentity(g.opts.LinkIdentityDir, tap))
		}
	}
	return errors.Join(errs...)
}

// linkKeyFile is where link tap keeps its own static key.
func (g *Gateway) linkKeyFile(tap string) string { return filepath.Join(g.opts.KeyDir, tap+".key") }
