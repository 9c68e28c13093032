package apitls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/errkind"
)

func TestPinFormat(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pin, err := Pin(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(spki)
	if want := "sha256//" + base64.StdEncoding.EncodeToString(sum[:]); pin != want {
		t.Errorf("Pin = %s, want %s", pin, want)
	}
	if len(pin) != len("sha256//")+44 {
		t.Errorf("Pin %s has %d characters, want 52", pin, len(pin))
	}
	if got := PinOfCert(&x509.Certificate{RawSubjectPublicKeyInfo: spki}); got != pin {
		t.Errorf("PinOfCert = %s, want Pin's %s", got, pin)
	}
	if got, err := ParsePin(pin); got != pin || err != nil {
		t.Errorf("ParsePin(%s) = %s, %v; want it unchanged", pin, got, err)
	}
	if _, err := Pin("not a key"); err == nil {
		t.Error("Pin of a string succeeded")
	}
}

func TestParsePinCanonical(t *testing.T) {
	for _, in := range []string{
		pinExample,
		"  " + pinExample + "\n",
		strings.TrimSuffix(pinExample, "="), // unpadded
	} {
		if got, err := ParsePin(in); got != pinExample || err != nil {
			t.Errorf("ParsePin(%q) = %q, %v; want %q", in, got, err, pinExample)
		}
	}
}

func TestParsePinRejects(t *testing.T) {
	digest := strings.TrimPrefix(pinExample, "sha256//")
	for _, tc := range []struct{ in, why string }{
		{"", "empty"},
		{"   ", "empty"},
		{digest, "does not start with sha256//"},
		{"sha1//" + digest, "does not start with sha256//"},
		{"SHA256//" + digest, "does not start with sha256//"},
		{"sha256//", "0 bytes"},
		{"sha256//not base64!", "not standard base64"},
		{"sha256//" + strings.NewReplacer("+", "-", "/", "_").Replace(digest), "not standard base64"},
		{"sha256//" + base64.StdEncoding.EncodeToString(make([]byte, 20)), "20 bytes"},
		{pinExample + ";" + pinExample, "several pins"},
	} {
		got, err := ParsePin(tc.in)
		if err == nil {
			t.Errorf("ParsePin(%q) = %q, want an error", tc.in, got)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.why) || !strings.Contains(msg, pinExample) {
			t.Errorf("ParsePin(%q): %q, want it to say %q and show %s", tc.in, msg, tc.why, pinExample)
		}
		if !errors.Is(err, errkind.ErrInvalid) {
			t.Errorf("ParsePin(%q): %v is not errkind.ErrInvalid", tc.in, err)
		}
	}
}
