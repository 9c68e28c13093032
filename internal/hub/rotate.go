package hub

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/tunnel"
)

// Rotate renews the secrets of one link of bridge for its holder: in TLS
// mode the link gets a certificate of its own and accepts only the
// holder's new one (r.Fingerprint); in static mode a key of its own. Only
// that link's tunnel restarts; the holder switches its traffic away from
// the link first. On error the link is as it was.
func (h *Hub) Rotate(ctx context.Context, bridge string, r api.RotateRequest) (api.KeyLink, error) {
	if err := r.Check(); err != nil {
		return api.KeyLink{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.servers[bridge]
	if !ok {
		return api.KeyLink{}, errkind.NotFound("no server with bridge %s is started", bridge)
	}
	who := api.Holder{GatewayID: r.GatewayID, Bond: r.Bond}
	switch {
	case s.holder == nil:
		return api.KeyLink{}, errkind.Conflict("nobody holds bridge %s: its holder renews its links' secrets, so claim it first (POST /v1/server/claim)", bridge)
	case !s.holder.Same(who):
		return api.KeyLink{}, errkind.Conflict("bridge %s is held by %s, not by %s", bridge, s.holder, who)
	case r.Link > s.cfg.Links:
		return api.KeyLink{}, errkind.Invalid("link", "bridge %s has %d links, got link %d", bridge, s.cfg.Links, r.Link)
	}
	i := r.Link - 1
	if s.cfg.TunnelMode == api.TunnelTLS {
		return h.rotateCert(ctx, s, i, r.Fingerprint)
	}
	return h.rotateKey(ctx, s, i)
}

// rotateCert gives s's link i a new certificate of its own and pins the
// holder's new one, fp (h.mu held).
func (h *Hub) rotateCert(ctx context.Context, s *server, i int, fp string) (api.KeyLink, error) {
	tap := s.cfg.Taps()[i]
	if fp == "" {
		return api.KeyLink{}, errkind.Invalid("fingerprint", "bridge %s runs TLS tunnels: a rotation needs the gateway's new certificate of the link", s.cfg.BridgeInterface)
	}
	fp, _ = tunnel.ParseFingerprint(fp) // checked by r.Check
	if h.opts.LinkIdentityDir == "" {
		return api.KeyLink{}, errkind.Unsupported(nil, "this hub keeps no link certificates")
	}
	id, renewal, err := tunnel.RenewLinkIdentity(h.opts.LinkIdentityDir, tap)
	if err != nil {
		return api.KeyLink{}, err
	}
	old, oldHolder := s.links[i], *s.holder
	holder := oldHolder
	holder.LinkFingerprints = make([]string, s.cfg.Links)
	copy(holder.LinkFingerprints, oldHolder.LinkFingerprints)
	holder.LinkFingerprints[i] = fp
	s.links[i].id, s.links[i].pin, s.holder = id, fp, &holder
	if err := h.applyRotation(ctx, s, i); err != nil {
		s.links[i], s.holder = old, &oldHolder
		return api.KeyLink{}, h.undoRotation(ctx, s, i, err, renewal.Undo)
	}
	if err := renewal.Commit(); err != nil {
		h.log.Warn("the replaced certificate of a link could not be deleted", "tap", tap, "err", err)
	}
	h.log.Info("link certificate renewed", "bridge", s.cfg.BridgeInterface, "tap", tap, "fingerprint", id.Fingerprint, "peer", fp)
	return api.KeyLink{Tap: tap, Port: s.cfg.Port(i + 1), Fingerprint: id.Fingerprint}, nil
}

// rotateKey gives s's link i a new static key of its own (h.mu held).
func (h *Hub) rotateKey(ctx context.Context, s *server, i int) (api.KeyLink, error) {
	tap := s.cfg.Taps()[i]
	path := h.linkKeyFile(tap)
	key, err := tunnel.NewKey()
	if err != nil {
		return api.KeyLink{}, err
	}
	prev, readErr := os.ReadFile(path)
	if readErr != nil && !errors.Is(readErr, os.ErrNotExist) {
		return api.KeyLink{}, fmt.Errorf("read key of %s: %w", tap, readErr)
	}
	if err := tunnel.WriteKey(path, key); err != nil {
		return api.KeyLink{}, err
	}
	old := s.links[i]
	s.links[i].keyFile = path
	if err := h.applyRotation(ctx, s, i); err != nil {
		s.links[i] = old
		return api.KeyLink{}, h.undoRotation(ctx, s, i, err, func() error {
			if readErr != nil {
				return os.Remove(path)
			}
			return tunnel.WriteKey(path, prev)
		})
	}
	h.log.Info("link key renewed", "bridge", s.cfg.BridgeInterface, "tap", tap)
	return api.KeyLink{Tap: tap, Port: s.cfg.Port(i + 1), Key: string(key)}, nil
}

// applyRotation restarts s's link i with its new secret and saves the
// claims (the holder's new certificate).
func (h *Hub) applyRotation(ctx context.Context, s *server, i int) error {
	if err := h.opts.Tunnels.Reconfigure(ctx, h.spec(s, i)); err != nil {
		return err
	}
	return h.saveClaims()
}

// undoRotation puts link i's previous secret back (s already says so)
// and returns the rotation's error, with the undo's if that failed too.
func (h *Hub) undoRotation(ctx context.Context, s *server, i int, err error, undo func() error) error {
	tap := s.cfg.Taps()[i]
	errs := []error{fmt.Errorf("renew the secrets of %s: %w", tap, err)}
	if uerr := undo(); uerr != nil {
		errs = append(errs, uerr)
	}
	if rerr := h.opts.Tunnels.Reconfigure(context.WithoutCancel(ctx), h.spec(s, i)); rerr != nil {
		errs = append(errs, fmt.Errorf("give %s its previous secret back: %w", tap, rerr))
	}
	if serr := h.saveClaims(); serr != nil {
		errs = append(errs, serr)
	}
	return errors.Join(errs...)
}
