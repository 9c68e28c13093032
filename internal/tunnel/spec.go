package tunnel

import (
	"math"
	"path/filepath"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// check validates s before any of it reaches a config file or the kernel.
// Every value that is written into the config file is checked here, so the
// renderer needs no quoting.
func (s Spec) check() error {
	if err := api.CheckIfName("tap", s.Tap); err != nil {
		return err
	}
	if err := checkKeepalive(s.Keepalive); err != nil {
		return err
	}
	if s.Device != "" {
		if err := api.CheckIfName("device", s.Device); err != nil {
			return err
		}
	}
	if s.Port < 1 || s.Port > 65535 {
		return errkind.Invalid("port", "%d is out of range 1..65535", s.Port)
	}
	// OpenVPN parses --mark with atoi into an int.
	if s.Mark > math.MaxInt32 {
		return errkind.Invalid("mark", "%#x is larger than %#x", s.Mark, math.MaxInt32)
	}
	switch s.Role {
	case Server:
		if s.Remote.IsValid() {
			return errkind.Invalid("remote", "is for clients only")
		}
	case Client:
		if !s.Remote.IsValid() || s.Remote.IsUnspecified() || s.Remote.IsMulticast() || s.Remote.Zone() != "" {
			return errkind.Invalid("remote", "%q is not a unicast address without zone", s.Remote)
		}
	default:
		return errkind.Invalid("role", "%q is neither %q nor %q", s.Role, Server, Client)
	}
	if err := s.checkAccounts(); err != nil {
		return err
	}
	switch s.mode() {
	case ModeStatic:
		return checkPath("key_file", s.KeyFile)
	case ModeTLS:
		if err := checkPath("cert_file", s.CertFile); err != nil {
			return err
		}
		if err := checkPath("cert_key_file", s.CertKeyFile); err != nil {
			return err
		}
		if len(s.PeerFingerprints) == 0 {
			return errkind.Invalid("peer_fingerprints", "TLS mode needs the peer's certificate fingerprint")
		}
		for _, f := range s.PeerFingerprints {
			if _, err := ParseFingerprint(f); err != nil {
				return err
			}
		}
		return nil
	}
	return errkind.Invalid("mode", "%q is neither %q nor %q", s.Mode, ModeStatic, ModeTLS)
}

// checkPath accepts an absolute, clean path of letters, digits and
// "/._-+@:,": nothing OpenVPN's config parser treats specially.
func checkPath(field, p string) error {
	if p == "" || !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return errkind.Invalid(field, "%q is not a clean absolute path", p)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '/' || c == '.' || c == '_' || c == '-' || c == '+' || c == '@' || c == ':' || c == ','
		if !ok {
			return errkind.Invalid(field, "%q has a forbidden character at byte %d", p, i)
		}
	}
	return nil
}

// checkAccounts checks the user and group openvpn drops to.
func (s Spec) checkAccounts() error {
	for field, name := range map[string]string{"user": s.User, "group": s.Group} {
		if err := checkAccount(field, name); err != nil {
			return err
		}
	}
	if (s.User == "") != (s.Group == "") {
		return errkind.Invalid("user", "user and group go together")
	}
	return nil
}

// checkAccount accepts "" or a user or group name as Debian makes them:
// a letter or '_' first, then letters, digits, '_', '-' and '.', at most
// 32 bytes.
func checkAccount(field, name string) error {
	if name == "" {
		return nil
	}
	if len(name) > 32 {
		return errkind.Invalid(field, "%q is longer than 32 bytes", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.')
		if !ok {
			return errkind.Invalid(field, "%q is not a user or group name (byte %d)", name, i)
		}
	}
	return nil
}

// checkKeepalive refuses a keepalive (0: the default) out of range or not
// whole seconds (OpenVPN's ping is in seconds).
func checkKeepalive(d time.Duration) error {
	if d != 0 && (d < MinKeepalive || d > MaxKeepalive || d%time.Second != 0) {
		return errkind.Invalid("keepalive", "%s: want whole seconds, %s..%s", d, MinKeepalive, MaxKeepalive)
	}
	return nil
}
