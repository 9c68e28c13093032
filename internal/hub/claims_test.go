package hub

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
	"github.com/multilink/multilink/internal/tunnel"
)

// clock is a settable clock for claims.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// newClaimHub is a hub with a claims file and a settable clock, serving
// the spec's bridge br0.
func newClaimHub(t *testing.T, claims string, c *clock) (*Hub, *testsupport.FakeNetlink) {
	t.Helper()
	n := testsupport.NewFakeNetlink()
	tun := &fakeTunnels{net: n, running: map[string]tunnel.Spec{}}
	h := New(Options{Netlink: n, Tunnels: tun, KeyDir: t.TempDir(), ClaimsFile: claims, Now: c.now, Identity: testIdentity(t)})
	cfg := staticServer(t)
	if _, err := h.Start(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return h, n
}

func claim(id, bond string) api.ClaimRequest {
	return api.ClaimRequest{GatewayID: id, Bond: bond}
}

// TestClaimOneHolder: the first bond that claims a bridge holds it and
// gets its key; it may claim again; another bond, of the same gateway or
// another, gets a conflict naming the bridge and the holder; the spec's
// anonymous key fetch is refused while the bridge is held.
func TestClaimOneHolder(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)}
	h, _ := newClaimHub(t, filepath.Join(t.TempDir(), "claims.json"), c)
	ctx := context.Background()
	if _, err := h.Key(ctx, ""); err != nil {
		t.Fatalf("anonymous key fetch of a free bridge: %v", err)
	}
	k, err := h.Claim(ctx, claim("gw-one-0001", "bond0"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Holder == nil || k.Holder.GatewayID != "gw-one-0001" || k.Holder.Bond != "bond0" || !strings.HasPrefix(k.Key, "-----BEGIN OpenVPN Static key V1-----") || len(k.Links) != 2 {
		t.Fatalf("claim answer %+v", k)
	}
	c.t = c.t.Add(time.Minute)
	if again, err := h.Claim(ctx, claim("gw-one-0001", "bond0")); err != nil || !again.Holder.Since.Equal(k.Holder.Since) {
		t.Errorf("the holder's second claim: %+v %v, want the same claim", again.Holder, err)
	}
	for _, other := range []api.ClaimRequest{claim("gw-one-0001", "bond1"), claim("gw-two-0002", "bond0")} {
		_, err := h.Claim(ctx, other)
		if !errors.Is(err, errkind.ErrConflict) || !strings.Contains(err.Error(), "br0") || !strings.Contains(err.Error(), "gateway gw-one-0001 bond bond0") {
			t.Errorf("claim by %+v: %v, want a conflict naming br0 and the holder", other, err)
		}
	}
	if _, err := h.Key(ctx, ""); !errors.Is(err, errkind.ErrConflict) || !strings.Contains(err.Error(), "gw-one-0001") {
		t.Errorf("anonymous key fetch of a held bridge: %v, want a conflict naming the holder", err)
	}
	if st := h.Status(ctx); len(st) != 1 || st[0].Holder == nil || st[0].Holder.Bond != "bond0" {
		t.Errorf("status does not show the holder: %+v", st)
	}
}

// TestRelease: another bond's release is refused; the holder's and the
// operator's release free the bridge; releasing a free bridge is fine; an
// unknown bridge is not found.
func TestRelease(t *testing.T) {
	c := &clock{t: time.Now()}
	h, _ := newClaimHub(t, "", c)
	ctx := context.Background()
	if _, err := h.Claim(ctx, claim("gw-one-0001", "bond0")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Release(ctx, "br0", &api.ReleaseRequest{GatewayID: "gw-two-0002", Bond: "bond0"}); !errors.Is(err, errkind.ErrConflict) {
		t.Errorf("release by another: %v, want a conflict", err)
	}
	out, err := h.Release(ctx, "br0", &api.ReleaseRequest{GatewayID: "gw-one-0001", Bond: "bond0"})
	if err != nil || out.Released == nil || out.Released.GatewayID != "gw-one-0001" {
		t.Fatalf("the holder's release: %+v %v", out, err)
	}
	if _, err := h.Claim(ctx, claim("gw-two-0002", "bond0")); err != nil {
		t.Fatalf("claim after the release: %v", err)
	}
	if out, err := h.Release(ctx, "br0", nil); err != nil || out.Released == nil || out.Released.GatewayID != "gw-two-0002" {
		t.Errorf("the operator's release: %+v %v", out, err)
	}
	if out, err := h.Release(ctx, "br0", nil); err != nil || out.Released != nil {
		t.Errorf("release of a free bridge: %+v %v", out, err)
	}
	if _, err := h.Release(ctx, "br9", nil); !errors.Is(err, errkind.ErrNotFound) {
		t.Errorf("release of an unknown bridge: %v, want not found", err)
	}
}

// TestClaimsSurviveRestart: a hub that stops with the daemon (Close) and
// starts again keeps the bridge's holder; an API stop of the server drops
// it.
func TestClaimsSurviveRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "claims.json")
	c := &clock{t: time.Now()}
	h, _ := newClaimHub(t, file, c)
	ctx := context.Background()
	if _, err := h.Claim(ctx, claim("gw-one-0001", "bond0")); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	h2, _ := newClaimHub(t, file, c)
	if _, err := h2.Claim(ctx, claim("gw-two-0002", "bond0")); !errors.Is(err, errkind.ErrConflict) {
		t.Errorf("after a restart another bond got the bridge: %v", err)
	}
	if err := h2.Stop(ctx, "br0"); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(file); err != nil || strings.Contains(string(data), "gw-one") {
		t.Errorf("claims file after the server's stop: %v %s", err, data)
	}
	h3, _ := newClaimHub(t, file, c)
	if _, err := h3.Claim(ctx, claim("gw-two-0002", "bond0")); err != nil {
		t.Errorf("after the server was stopped and started, the bridge is still held: %v", err)
	}
}

// TestClaimsFileUnreadable: a damaged claims file does not stop a server
// from starting; it starts unclaimed.
func TestClaimsFileUnreadable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "claims.json")
	if err := os.WriteFile(file, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, _ := newClaimHub(t, file, &clock{t: time.Now()})
	if _, err := h.Claim(context.Background(), claim("gw-one-0001", "bond0")); err != nil {
		t.Fatal(err)
	}
}

// TestClaimExpires: a holder whose links receive frames keeps its claim
// however long; one silent on every link for the expiry loses it.
func TestClaimExpires(t *testing.T) {
	c := &clock{t: time.Now()}
	h, n := newClaimHub(t, "", c)
	ctx := context.Background()
	if _, err := h.Claim(ctx, claim("gw-one-0001", "bond0")); err != nil {
		t.Fatal(err)
	}
	rx := func(tap string, packets uint64) {
		l, err := n.LinkByName(tap)
		if err != nil {
			t.Fatal(err)
		}
		l.Attrs().Statistics = &netlink.LinkStatistics{RxPackets: packets}
	}
	rx("tap1", 10)
	rx("tap2", 10)
	h.expireSilent() // first look: counters recorded
	// Traffic on tap2 only, for 30 minutes: the holder is alive.
	for i := range 60 {
		c.t = c.t.Add(30 * time.Second)
		rx("tap2", uint64(11+i))
		h.expireSilent()
	}
	if _, err := h.Claim(ctx, claim("gw-two-0002", "bond0")); !errors.Is(err, errkind.ErrConflict) {
		t.Fatalf("a holder with traffic lost its claim: %v", err)
	}
	// Silent on both links: held until the expiry, free after it.
	for elapsed := time.Duration(0); elapsed < DefaultClaimExpiry-time.Minute; elapsed += 30 * time.Second {
		c.t = c.t.Add(30 * time.Second)
		h.expireSilent()
	}
	if _, err := h.Claim(ctx, claim("gw-two-0002", "bond0")); !errors.Is(err, errkind.ErrConflict) {
		t.Fatalf("claim lapsed before the expiry: %v", err)
	}
	c.t = c.t.Add(2 * time.Minute)
	h.expireSilent()
	if _, err := h.Claim(ctx, claim("gw-two-0002", "bond0")); err != nil {
		t.Fatalf("claim of a holder silent past the expiry did not lapse: %v", err)
	}
}

// TestTLSBridge: a new start is TLS mode: no shared key is made; each
// link accepts only the hub's own certificate until a gateway bond
// claims the bridge with its fingerprint, then only that one, and the
// hub's own again after the release. The spec's anonymous key fetch
// has nothing to give; a claim without a fingerprint is refused.
func TestTLSBridge(t *testing.T) {
	h, n, tun, dir := newHub(t)
	ctx := context.Background()
	st, err := h.Start(ctx, testsupport.SpecServer(t))
	if err != nil {
		t.Fatal(err)
	}
	own := h.opts.Identity.Fingerprint
	if st.TunnelMode != api.TunnelTLS {
		t.Errorf("tunnel mode %q, want tls by default", st.TunnelMode)
	}
	if _, err := os.Stat(filepath.Join(dir, "br0.key")); !os.IsNotExist(err) {
		t.Errorf("a TLS bridge made a static key: %v", err)
	}
	for _, tap := range []string{"tap1", "tap2"} {
		if sp := tun.running[tap]; sp.Mode != tunnel.ModeTLS || sp.CertFile != h.opts.Identity.CertFile || len(sp.PeerFingerprints) != 1 || sp.PeerFingerprints[0] != own {
			t.Errorf("%s before a claim: %+v, want TLS pinned to the hub's own certificate", tap, sp)
		}
	}
	if _, err := h.Key(ctx, ""); !errors.Is(err, errkind.ErrConflict) || !strings.Contains(err.Error(), "static") {
		t.Errorf("anonymous key fetch of a TLS bridge: %v, want a conflict naming static mode", err)
	}
	if _, err := h.Claim(ctx, claim("gw-one-0001", "bond0")); !errors.Is(err, errkind.ErrInvalid) {
		t.Errorf("claim without a fingerprint: %v, want invalid", err)
	}
	gw := testIdentity(t).Fingerprint
	r := claim("gw-one-0001", "bond0")
	r.Fingerprint = strings.ToLower(gw)
	k, err := h.Claim(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if k.TunnelMode != api.TunnelTLS || k.Fingerprint != own || k.Key != "" || k.Holder.Fingerprint != gw || len(k.Links) != 2 {
		t.Errorf("claim answer %+v, want TLS with the hub's fingerprint and no key", k)
	}
	for _, tap := range []string{"tap1", "tap2"} {
		if sp := tun.running[tap]; len(sp.PeerFingerprints) != 1 || sp.PeerFingerprints[0] != gw {
			t.Errorf("%s after the claim pins %v, want the gateway's %s", tap, sp.PeerFingerprints, gw)
		}
	}
	reconf := func() int {
		c := 0
		for _, op := range n.Ops() {
			if strings.HasPrefix(op, "tunnel reconfigure") {
				c++
			}
		}
		return c
	}
	before := reconf()
	if _, err := h.Claim(ctx, r); err != nil || reconf() != before {
		t.Errorf("the holder's second claim: %v, %d reconfigurations, want none", err, reconf()-before)
	}
	if _, err := h.Release(ctx, "br0", nil); err != nil {
		t.Fatal(err)
	}
	if sp := tun.running["tap1"]; sp.PeerFingerprints[0] != gw {
		t.Errorf("after the release tap1 pins %v, want the last holder's until another claims", sp.PeerFingerprints)
	}
	other := claim("gw-two-0002", "bond0")
	other.Fingerprint = testIdentity(t).Fingerprint
	if _, err := h.Claim(ctx, other); err != nil {
		t.Fatal(err)
	}
	if sp := tun.running["tap2"]; sp.PeerFingerprints[0] != other.Fingerprint {
		t.Errorf("after another holder's claim tap2 pins %v, want %s", sp.PeerFingerprints, other.Fingerprint)
	}

	bare := New(Options{Netlink: testsupport.NewFakeNetlink(), Tunnels: tun, KeyDir: t.TempDir()})
	if _, err := bare.Start(ctx, testsupport.SpecServer(t)); !errors.Is(err, errkind.ErrUnsupported) || !strings.Contains(err.Error(), "static") {
		t.Errorf("TLS start without an identity: %v, want unsupported naming static mode", err)
	}
}

// TestSavedClaimsOfOtherBridges: a claim change keeps the saved claims of
// bridges not started now (their restore is being retried); a saved
// claim that is not valid is dropped, not trusted.
func TestSavedClaimsOfOtherBridges(t *testing.T) {
	file := filepath.Join(t.TempDir(), "claims.json")
	saved := `{"br7": {"gateway_id": "gw-seven-07", "bond": "bond7", "since": "2026-12-01T00:00:00Z"},
		"br8": {"gateway_id": "gw-eight-08", "bond": "bond8", "fingerprint": "not a fingerprint", "since": "2026-12-01T00:00:00Z"}}`
	if err := os.WriteFile(file, []byte(saved), 0o600); err != nil {
		t.Fatal(err)
	}
	h, _ := newClaimHub(t, file, &clock{t: time.Now()})
	if _, err := h.Claim(context.Background(), claim("gw-one-0001", "bond0")); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "gw-seven-07") || !strings.Contains(string(data), "gw-one-0001") || strings.Contains(string(data), "gw-eight") {
		t.Errorf("claims file:\n%s\nwant br7's saved claim kept, br0's added, br8's invalid one dropped", data)
	}
}
