package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
// holder. In TLS mode the links then accept the holder's certificate
// only; they keep accepting it after a release or a lapse, until another
// holder claims them (a holder whose claim lapsed while its links were
// down comes back without a new claim).
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
		if len(r.LinkFingerprints) > s.cfg.Links {
			return api.Key{}, errkind.Invalid("link_fingerprints", "%d entries, but bridge %s has %d links", len(r.LinkFingerprints), s.cfg.BridgeInterface, s.cfg.Links)
		}
		for _, f := range r.LinkFingerprints {
			canon := ""
			if f != "" {
				canon, _ = tunnel.ParseFingerprint(f) // checked by r.Check
			}
			who.LinkFingerprints = append(who.LinkFingerprints, canon)
		}
	}
	if s.holder != nil && !s.holder.Same(who) {
		return api.Key{}, errkind.Conflict("bridge %s is held by %s since %s: one gateway bond per bridge; "+
			"stop that client, or release the bridge (POST /v1/server/release/%s)",
			s.cfg.BridgeInterface, s.holder, s.holder.Since.UTC().Format(time.RFC3339), s.cfg.BridgeInterface)
	}
	// The answer first: a claim is never taken for a gateway that gets an
	// error (it would not release it).
	k, err := h.key(s)
	if err != nil {
		return api.Key{}, err
	}
	if s.holder == nil || !samePins(*s.holder, who, s.cfg.Links) {
		if s.holder != nil {
			who.Since = s.holder.Since // the same holder with a new certificate
		}
		if err := h.take(ctx, s, &who); err != nil {
			return api.Key{}, err
		}
		h.log.Info("bridge claimed", "bridge", s.cfg.BridgeInterface, "holder", who.String(), "fingerprint", who.Fingerprint)
	}
	s.quiet.heard = h.now()
	held := *s.holder
	k.Holder = &held
	return k, nil
}

// samePins tells whether a and b present the same certificate on each of
// n links.
func samePins(a, b api.Holder, n int) bool {
	for i := range n {
		if a.LinkFingerprint(i) != b.LinkFingerprint(i) {
			return false
		}
	}
	return true
}

// take makes who s's holder: TLS links are re-pinned to its
// certificates (only those whose pin changes restart) and the claims
// file says so. On error s is as it was (h.mu held).
func (h *Hub) take(ctx context.Context, s *server, who *api.Holder) error {
	oldHolder := s.holder
	oldPins := make([]string, len(s.links))
	var changed []int
	for i := range s.links {
		oldPins[i] = s.links[i].pin
		if s.cfg.TunnelMode == api.TunnelTLS && s.links[i].pin != who.LinkFingerprint(i) {
			s.links[i].pin = who.LinkFingerprint(i)
			changed = append(changed, i)
		}
	}
	s.holder, s.quiet = who, silence{heard: h.now()}
	err := h.reconfigure(ctx, s, changed)
	if err == nil {
		err = h.saveClaims()
	}
	if err != nil {
		s.holder = oldHolder
		for i := range s.links {
			s.links[i].pin = oldPins[i]
		}
		if rerr := h.reconfigure(context.WithoutCancel(ctx), s, changed); rerr != nil {
			h.log.Error("give the links back their previous peer", "bridge", s.cfg.BridgeInterface, "err", rerr)
		}
		return fmt.Errorf("bind bridge %s's links: %w", s.cfg.BridgeInterface, err)
	}
	return nil
}

// drop ends s's claim: another bond may claim the bridge. The links keep
// their pin until then. A claims file that cannot be written is logged:
// the claim is dropped anyway (h.mu held).
func (h *Hub) drop(s *server, why string, log ...any) {
	old := s.holder
	s.holder = nil
	if err := h.saveClaims(); err != nil {
		h.log.Error("save claims", "err", err)
	}
	h.log.Info(why, append([]any{"bridge", s.cfg.BridgeInterface, "holder", old.String()}, log...)...)
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
	out.Released = s.holder
	h.drop(s, "bridge released", "by_holder", who != nil)
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
			h.expireSilent()
		}
	}
}

// expireSilent ends the claims of holders silent on every link for the
// claim expiry.
func (h *Hub) expireSilent() {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	for _, s := range h.servers {
		if s.holder == nil {
			continue
		}
		heard, readable := h.heard(s)
		switch {
		case !readable: // no counters to judge by: not silence
			h.log.Debug("claim kept: no TAP counters readable", "bridge", s.cfg.BridgeInterface)
			continue
		case heard:
			s.quiet.heard = now
			continue
		case now.Sub(s.quiet.heard) < h.opts.ClaimExpiry:
			continue
		}
		h.drop(s, "claim lapsed: its holder sent nothing on any link", "silent_for", now.Sub(s.quiet.heard).Round(time.Second).String())
	}
}

// heard tells whether any TAP of s received frames since the last look,
// and whether any TAP's counters could be read at all.
func (h *Hub) heard(s *server) (moved, readable bool) {
	if s.quiet.rx == nil {
		s.quiet.rx = map[string]uint64{}
	}
	for _, tap := range s.cfg.Taps() {
		l, err := h.opts.Netlink.LinkByName(tap)
		if err != nil || l.Attrs().Statistics == nil {
			continue
		}
		readable = true
		rx := l.Attrs().Statistics.RxPackets
		s.notePeer(tap, rx, h.now())
		if last, ok := s.quiet.rx[tap]; ok && rx != last {
			moved = true
		}
		s.quiet.rx[tap] = rx
	}
	return moved, readable
}

// claimsFile is the saved claims: bridge name to holder.
type claimsFile map[string]api.Holder

// saveClaims writes every bridge's holder to the claims file, keeping the
// saved claims of bridges not started now (a restore being retried), so
// that a restarted hub keeps them (h.mu held).
func (h *Hub) saveClaims() error {
	if h.opts.ClaimsFile == "" {
		return nil
	}
	out := claimsFile{}
	for name, who := range h.saved {
		if _, started := h.servers[name]; !started {
			out[name] = who
		}
	}
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
	h.saved = out
	return nil
}

// loadClaims reads the claims file. One that cannot be read is logged and
// taken as empty, as is an entry that is not valid: a claim is remade by
// its holder's next start, or by the operator.
func loadClaims(path string, log *slog.Logger) claimsFile {
	out := claimsFile{}
	if path == "" {
		return out
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out
	}
	var saved claimsFile
	if err == nil {
		err = json.Unmarshal(data, &saved)
	}
	if err != nil {
		log.Warn("the saved claims cannot be read; bridges start unclaimed", "file", path, "err", err)
		return out
	}
	for bridge, who := range saved {
		r := api.ClaimRequest{Bridge: bridge, GatewayID: who.GatewayID, Bond: who.Bond, Fingerprint: who.Fingerprint, LinkFingerprints: who.LinkFingerprints}
		if err := r.Check(); err != nil {
			log.Warn("a saved claim is not valid; its bridge starts unclaimed", "file", path, "bridge", bridge, "err", err)
			continue
		}
		if who.Fingerprint != "" {
			if who.Fingerprint, err = tunnel.ParseFingerprint(who.Fingerprint); err != nil {
				log.Warn("a saved claim is not valid; its bridge starts unclaimed", "file", path, "bridge", bridge, "err", err)
				continue
			}
		}
		for i, f := range who.LinkFingerprints {
			if f != "" {
				who.LinkFingerprints[i], _ = tunnel.ParseFingerprint(f) // checked by r.Check
			}
		}
		out[bridge] = who
	}
	return out
}
