package tunnel

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/errkind"
)

// TestLoadIdentity: the first load makes a key (0600) and a certificate;
// the next returns the same identity; the fingerprint is the SHA-256 of
// the certificate as openssl prints it; a damaged identity is an error,
// never replaced.
func TestLoadIdentity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "identity")
	id, err := LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(id.KeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file %s: %v %v, want mode 0600", id.KeyFile, fi.Mode(), err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("dir %s: %v %v, want mode 0700", dir, fi.Mode(), err)
	}
	pair, err := tls.LoadX509KeyPair(id.CertFile, id.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pair.Certificate[0])
	if want, _ := ParseFingerprint(hex.EncodeToString(sum[:])); id.Fingerprint != want || len(id.Fingerprint) != 95 {
		t.Errorf("fingerprint %s, want %s", id.Fingerprint, want)
	}
	if out, err := exec.Command("openssl", "x509", "-in", id.CertFile, "-noout", "-fingerprint", "-sha256").Output(); err == nil {
		if got := strings.TrimSpace(string(out)); !strings.HasSuffix(got, "="+id.Fingerprint) {
			t.Errorf("openssl says %s, we say %s", got, id.Fingerprint)
		}
	}
	again, err := LoadIdentity(dir)
	if err != nil || again != id {
		t.Errorf("second load: %+v %v, want %+v", again, err, id)
	}
	if err := os.WriteFile(id.KeyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdentity(dir); err == nil || !strings.Contains(err.Error(), id.KeyFile) {
		t.Errorf("damaged key: %v, want an error naming %s", err, id.KeyFile)
	}
	if data, _ := os.ReadFile(id.KeyFile); string(data) != "garbage" {
		t.Error("the damaged key was replaced")
	}
	// A key without its certificate (a first start cut short): made anew.
	if err := os.Remove(id.CertFile); err != nil {
		t.Fatal(err)
	}
	fresh, err := LoadIdentity(dir)
	if err != nil || fresh.Fingerprint == id.Fingerprint {
		t.Errorf("a key without a certificate: %+v %v, want a new identity", fresh, err)
	}
}

func TestParseFingerprint(t *testing.T) {
	for in, want := range map[string]string{
		fpA:                              fpA,
		strings.ToLower(fpA):             fpA,
		strings.ReplaceAll(fpA, ":", ""): fpA,
	} {
		if got, err := ParseFingerprint(in); err != nil || got != want {
			t.Errorf("ParseFingerprint(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestOlderOpenVPNRefusesTLS: with OpenVPN 2.5 (no --peer-fingerprint) a
// TLS-mode start is refused as unsupported, naming the version needed and
// static mode; nothing is left; a static-mode start works.
func TestOlderOpenVPNRefusesTLS(t *testing.T) {
	w := newFakeWorld(t, "run")
	if err := os.WriteFile(filepath.Join(w.dir, "version"), []byte("2.5.9"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := w.manager(t, Options{})
	id := testIdentity(t)
	s := Spec{Tap: "tap1", Role: Server, Port: 1191, Mode: ModeTLS, CertFile: id.CertFile, CertKeyFile: id.KeyFile, PeerFingerprints: []string{id.Fingerprint}}
	err := m.Start(context.Background(), s)
	if !errors.Is(err, errkind.ErrUnsupported) || !strings.Contains(err.Error(), "2.5.9") || !strings.Contains(err.Error(), "2.6") || !strings.Contains(err.Error(), `"static"`) {
		t.Fatalf("TLS start with OpenVPN 2.5.9: %v, want unsupported naming 2.5.9, 2.6 and static mode", err)
	}
	if _, ok := w.dev.link("tap1"); ok {
		t.Error("the refused start left tap1")
	}
	if err := m.Start(context.Background(), testSpec(w.key, "tap1", 1191)); err != nil {
		t.Fatalf("static start with OpenVPN 2.5.9: %v", err)
	}
}

// testIdentity is a tunnel identity made for the test.
func testIdentity(t *testing.T) Identity {
	t.Helper()
	id, err := LoadIdentity(filepath.Join(t.TempDir(), "identity"))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestLinkIdentityRenewal: a link has no identity of its own until a
// renewal; Undo puts the previous one back, Commit deletes it; Forget
// leaves nothing.
func TestLinkIdentityRenewal(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := LinkIdentity(dir, "tap1"); ok || err != nil {
		t.Fatalf("before any renewal: ok %v err %v, want none", ok, err)
	}
	first, r, err := RenewLinkIdentity(dir, "tap1")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Commit(); err != nil {
		t.Fatal(err)
	}
	got, ok, err := LinkIdentity(dir, "tap1")
	if !ok || err != nil || got.Fingerprint != first.Fingerprint {
		t.Fatalf("after a renewal: %v %v %v, want %s", got.Fingerprint, ok, err, first.Fingerprint)
	}
	second, r, err := RenewLinkIdentity(dir, "tap1")
	if err != nil {
		t.Fatal(err)
	}
	if second.Fingerprint == first.Fingerprint || second.CertFile != first.CertFile {
		t.Fatalf("second renewal: %s at %s, first %s at %s", second.Fingerprint, second.CertFile, first.Fingerprint, first.CertFile)
	}
	if err := r.Undo(); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := LinkIdentity(dir, "tap1"); got.Fingerprint != first.Fingerprint {
		t.Fatalf("after undo: %s, want the first %s", got.Fingerprint, first.Fingerprint)
	}
	if _, r, err = RenewLinkIdentity(dir, "tap1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := ForgetLinkIdentity(dir, "tap1"); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left after forget: %v", left)
	}
	// The first renewal of a link without one: undo leaves none.
	if _, r, err = RenewLinkIdentity(dir, "tap2"); err != nil {
		t.Fatal(err)
	}
	if err := r.Undo(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := LinkIdentity(dir, "tap2"); ok {
		t.Error("an undone first renewal left an identity")
	}
}
