package hub

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
	"github.com/multilink/multilink/internal/tunnel"
)

// rotateHub is a hub with link identities and a claims file, serving the
// spec's bridge in mode, claimed by gw-one-0001/bond0 (fingerprint gw in
// TLS mode).
func rotateHub(t *testing.T, mode string) (h *Hub, tun *fakeTunnels, gw string, opts Options) {
	t.Helper()
	n := testsupport.NewFakeNetlink()
	tun = &fakeTunnels{net: n, running: map[string]tunnel.Spec{}}
	dir := t.TempDir()
	opts = Options{Netlink: n, Tunnels: tun, KeyDir: filepath.Join(dir, "keys"), Identity: testIdentity(t),
		LinkIdentityDir: filepath.Join(dir, "links"), ClaimsFile: filepath.Join(dir, "claims.json")}
	h = New(opts)
	cfg := testsupport.SpecServer(t)
	cfg.TunnelMode = mode
	if _, err := h.Start(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	r := claim("gw-one-0001", "bond0")
	if mode == api.TunnelTLS {
		gw = testIdentity(t).Fingerprint
		r.Fingerprint = gw
	}
	if _, err := h.Claim(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return h, tun, gw, opts
}

// TestRotateTLS: the holder's rotation of link 2 gives tap2 a
// certificate of its own and pins the gateway's new one there only; the
// answer, a later claim and a restarted hub say the same; a rotation by
// another bond, of a link the bridge lacks, or without a fingerprint
// changes nothing.
func TestRotateTLS(t *testing.T) {
	h, tun, gw, opts := rotateHub(t, api.TunnelTLS)
	ctx := context.Background()
	newGW := testIdentity(t).Fingerprint
	for _, bad := range []struct {
		r    api.RotateRequest
		kind errkind.Kind
	}{
		{api.RotateRequest{GatewayID: "gw-two-0002", Bond: "bond0", Link: 2, Fingerprint: newGW}, errkind.KindConflict},
		{api.RotateRequest{GatewayID: "gw-one-0001", Bond: "bond0", Link: 3, Fingerprint: newGW}, errkind.KindInvalid},
		{api.RotateRequest{GatewayID: "gw-one-0001", Bond: "bond0", Link: 2}, errkind.KindInvalid},
	} {
		if _, err := h.Rotate(ctx, "br0", bad.r); errkind.KindOf(err) != bad.kind {
			t.Errorf("rotation %+v: %v, want kind %d", bad.r, err, bad.kind)
		}
	}
	if left, _ := os.ReadDir(opts.LinkIdentityDir); len(left) != 0 {
		t.Errorf("refused rotations left %v", left)
	}
	l, err := h.Rotate(ctx, "br0", api.RotateRequest{GatewayID: "gw-one-0001", Bond: "bond0", Link: 2, Fingerprint: strings.ToLower(newGW)})
	if err != nil {
		t.Fatal(err)
	}
	id, ok, err := tunnel.LinkIdentity(opts.LinkIdentityDir, "tap2")
	if !ok || err != nil || l.Tap != "tap2" || l.Fingerprint != id.Fingerprint || id.Fingerprint == opts.Identity.Fingerprint {
		t.Fatalf("answer %+v, tap2's own identity %+v %v %v", l, id, ok, err)
	}
	if sp := tun.running["tap2"]; sp.CertFile != id.CertFile || sp.PeerFingerprints[0] != newGW {
		t.Errorf("tap2 runs %s pinning %v, want its own certificate pinning %s", sp.CertFile, sp.PeerFingerprints, newGW)
	}
	if sp := tun.running["tap1"]; sp.CertFile != opts.Identity.CertFile || sp.PeerFingerprints[0] != gw {
		t.Errorf("tap1 runs %s pinning %v, want it untouched", sp.CertFile, sp.PeerFingerprints)
	}
	// The holder's next claim names both links' certificates; the answer
	// names the hub's of each link.
	r := claim("gw-one-0001", "bond0")
	r.Fingerprint, r.LinkFingerprints = gw, []string{"", newGW}
	k, err := h.Claim(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if k.Links[0].Fingerprint != "" || k.Links[1].Fingerprint != id.Fingerprint || k.Holder.LinkFingerprint(1) != newGW {
		t.Errorf("claim answer links %+v holder %+v", k.Links, k.Holder)
	}
	// A claim that forgets tap2's certificate re-pins it to the main one.
	if _, err := h.Claim(ctx, claim2(gw)); err != nil {
		t.Fatal(err)
	}
	if sp := tun.running["tap2"]; sp.PeerFingerprints[0] != gw {
		t.Errorf("after a claim without link certificates tap2 pins %v, want %s", sp.PeerFingerprints, gw)
	}
	if _, err := h.Claim(ctx, r); err != nil {
		t.Fatal(err)
	}
	// A restarted hub keeps tap2's certificate and pin.
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	again := New(opts)
	cfg := testsupport.SpecServer(t)
	if _, err := again.Start(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if sp := tun.running["tap2"]; sp.CertFile != id.CertFile || sp.PeerFingerprints[0] != newGW {
		t.Errorf("after a restart tap2 runs %s pinning %v, want its own certificate pinning %s", sp.CertFile, sp.PeerFingerprints, newGW)
	}
	// The server's stop forgets the links' own certificates.
	if err := again.Stop(ctx, "br0"); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(opts.LinkIdentityDir); len(left) != 0 {
		t.Errorf("a stopped server left %v", left)
	}
}

func claim2(fp string) api.ClaimRequest {
	r := claim("gw-one-0001", "bond0")
	r.Fingerprint = fp
	return r
}

// TestRotateStatic: link 1 gets a key of its own; the spec's key answer
// is the first link's, and each rotated link's entry has its own; a
// failed restart puts the previous key back.
func TestRotateStatic(t *testing.T) {
	h, tun, _, opts := rotateHub(t, api.TunnelStatic)
	ctx := context.Background()
	shared, err := os.ReadFile(filepath.Join(opts.KeyDir, "br0.key"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.Rotate(ctx, "br0", api.RotateRequest{GatewayID: "gw-one-0001", Bond: "bond0", Link: 1})
	if err != nil {
		t.Fatal(err)
	}
	if tunnel.ParseKey([]byte(l.Key)) != nil || l.Key == string(shared) || l.Tap != "tap1" {
		t.Fatalf("answer %+v", l)
	}
	if sp := tun.running["tap1"]; filepath.Base(sp.KeyFile) != "tap1.key" {
		t.Errorf("tap1 runs key %s, want its own", sp.KeyFile)
	}
	if sp := tun.running["tap2"]; filepath.Base(sp.KeyFile) != "br0.key" {
		t.Errorf("tap2 runs key %s, want the bridge's", sp.KeyFile)
	}
	k, err := h.Claim(ctx, claim("gw-one-0001", "bond0"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Key != l.Key || k.Links[0].Key != l.Key || k.Links[1].Key != "" {
		t.Errorf("claim answer key %.20q links %+v, want the first link's key and its own in its entry", k.Key, k.Links)
	}
	tun.mu.Lock()
	delete(tun.running, "tap1") // the restart fails
	tun.mu.Unlock()
	_, err = h.Rotate(ctx, "br0", api.RotateRequest{GatewayID: "gw-one-0001", Bond: "bond0", Link: 1})
	if !errors.Is(err, errkind.ErrNotFound) {
		t.Errorf("rotation whose restart fails: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(opts.KeyDir, "tap1.key")); string(data) != l.Key {
		t.Errorf("after a failed rotation tap1's key is not the previous one")
	}
}
