package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/atomicfile"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/tunnel"
)

// DefaultClaimExpiry is how long a holder may be silent on every link of
// its bridge before its claim lapses.
const DefaultClaimExpiry = 10 * time.Minute

// claimCheckEvery is how often silent holders are looked for.
const claimCheckEvery = 30 * time.Second

// silence follows the received-frame counters of a claimed bridge's TAPs.
type silence struct {
	rx    map[string]uint64 // per TAP, at the last change
	heard time.Time         // when a counter last moved (or the claim was made)
}

// Claim gives bridge r.Bridge's links to the holder r names and returns
// what it needs to connect. The holder that has them already gets them
// again; another holder gets errkind.Conflict naming the bridge and the
// holder.
func (h *Hub) Claim(ctx context.Context, r api.ClaimRequest) (api.Key, error) {
	if err := r.Check(); err != nil {
		return api.Key{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s, err := h.server(r.Bridge, "bridge_interface")
	if err != nil {
		return api.Key{}, err
	}
	who := api.Holder{GatewayID: r.GatewayID, Bond: r.Bond, Since: h.now()}
	if s.cfg.TunnelMode == api.TunnelTLS {
		fp, err := tunnel.ParseFingerprint(r.Fingerprint)
		if err != nil {
			return api.Key{}, errkind.Invalid("fingerprint", "bridge %s runs TLS tunnels: the claim needs the gateway's tunnel certificate fingerprint", s.cfg.BridgeInterface)
		}
		who.Fingerprint = fp
	}
	switch {
	case s.holder != nil && !s.holder.Same(who):
		return api.Key{}, errkind.Conflict("bridge %s is held by %s since %s: one gateway bond per bridge; "+
			"stop that client, or release the bridge (POST /v1/server/release/%s)",
			s.cfg.BridgeInterface, s.holder, s.holder.Since.UTC().Format(time.RFC3339), s.cfg.BridgeInterface)
	case s.holder == nil || s.holder.Fingerprint != who.Fingerprint:
		if s.holder != nil {
			who.Since = s.holder.Since // the same holder with a new certificate
		}
		if err := h.setHolder(ctx, s, &who); err != nil {
			return api.Key{}, err
		}
		h.log.Info("bridge claimed", "bridge", s.cfg.BridgeInterface, "holder", who.String(), "fingerprint", who.Fingerprint)
	}
	k, err := h.key(s)
	if err != nil {
		return api.Key{}, err
	}
	held := *s.holder
	k.Holder = &held
	return k, nil
}

// Release ends the claim on bridge. With who (the holder's own release)
// it is refused when another holds the bridge; without, whoever holds it
// is released (the operator). A bridge nobody holds is released already.
func (h *Hub) Release(ctx context.Context, bridge string, who *api.ReleaseRequest) (api.Released, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.servers[bridge]
	if !ok {
		return api.Released{}, errkind.NotFound("no server with bridge %s is started", bridge)
	}
	out := api.Released{Bridge: bridge}
	if s.holder == nil {
		return out, nil
	}
	if who != nil && !s.holder.Same(api.Holder{GatewayID: who.GatewayID, Bond: who.Bond}) {
		return api.Released{}, errkind.Conflict("bridge %s is held by %s, not by gateway %s bond %s", bridge, s.holder, who.GatewayID, who.Bond)
	}
	old := s.holder
	if err := h.setHolder(ctx, s, nil); err != nil {
		return api.Released{}, err
	}
	h.log.Info("bridge released", "bridge", bridge, "holder", old.String(), "by_holder", who != nil)
	out.Released = old
	return out, nil
}

// ExpireClaims ends, every 30 s until ctx ends, the claims whose holder
// has sent nothing on any link of its bridge for the claim expiry.
func (h *Hub) ExpireClaims(ctx context.Context) {
	t := time.NewTicker(claimCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.expireSilent(ctx)
		}
	}
}

// expireSilent ends the claims of holders silent on every link for the
// claim expiry.
func (h *Hub) expireSilent(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	for name, s := range h.servers {
		if s.holder == nil {
			continue
		}
		if h.heard(s) {
			s.quiet.heard = now
			continue
		}
		if now.Sub(s.quiet.heard) < h.opts.ClaimExpiry {
			continue
		}
		h.log.Warn("claim lapsed: its holder sent nothing on any link", "bridge", name, "holder", s.holder.String(),
			"silent_for", now.Sub(s.quiet.heard).Round(time.Second).String())
		if err := h.setHolder(ctx, s, nil); err != nil {
			h.log.Error("end a lapsed claim", "bridge", name, "err", err)
		}
	}
}

// setHolder makes who (nil: nobody) s's holder: TLS links then accept its
// certificate only, and the claims file says so. On error s is as it was
// (h.mu held).
func (h *Hub) setHolder(ctx context.Context, s *server, who *api.Holder) error {
	old := s.holder
	s.holder = who
	if who != nil {
		s.quiet = silence{heard: h.now()}
	}
	err := h.repin(ctx, s)
	if err == nil {
		err = h.saveClaims()
	}
	if err != nil {
		s.holder = old
		if rerr := h.repin(context.WithoutCancel(ctx), s); rerr != nil {
			h.log.Error("give the links back their previous peer", "bridge", s.cfg.BridgeInterface, "err", rerr)
		}
		return fmt.Errorf("bind bridge %s's links: %w", s.cfg.BridgeInterface, err)
	}
	return nil
}

// heard tells whether any TAP of s received frames since the last look.
func (h *Hub) heard(s *server) bool {
	if s.quiet.rx == nil {
		s.quiet.rx = map[string]uint64{}
	}
	moved := false
	for _, tap := range s.cfg.Taps() {
		l, err := h.opts.Netlink.LinkByName(tap)
		if err != nil || l.Attrs().Statistics == nil {
			continue
		}
		rx := l.Attrs().Statistics.RxPackets
		if last, ok := s.quiet.rx[tap]; ok && rx != last {
			moved = true
		}
		s.quiet.rx[tap] = rx
	}
	return moved
}

// claimsFile is the saved claims: bridge name to holder.
type claimsFile map[string]api.Holder

// saveClaims writes every bridge's holder to the claims file, so that a
// restarted hub keeps them (h.mu held).
func (h *Hub) saveClaims() error {
	if h.opts.ClaimsFile == "" {
		return nil
	}
	out := claimsFile{}
	for name, s := range h.servers {
		if s.holder != nil {
			out[name] = *s.holder
		}
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("encode claims: %w", err)
	}
	if err := atomicfile.Write(h.opts.ClaimsFile, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save claims: %w", err)
	}
	return nil
}

// savedHolder is bridge's holder in the claims file, if any. A claims
// file that cannot be read is logged and taken as empty: a claim is
// remade by its holder's next start, or by the operator.
func (h *Hub) savedHolder(bridge string) *api.Holder {
	if h.opts.ClaimsFile == "" {
		return nil
	}
	data, err := os.ReadFile(h.opts.ClaimsFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var saved claimsFile
	if err == nil {
		err = json.Unmarshal(data, &saved)
	}
	if err != nil {
		h.log.Warn("the saved claims cannot be read; bridges start unclaimed", "file", h.opts.ClaimsFile, "err", err)
		return nil
	}
	if who, ok := saved[bridge]; ok {
		return &who
	}
	return nil
}
