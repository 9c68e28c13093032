package tunnel

import (
	"errors"
	"flag"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestRenderGolden(t *testing.T) {
	v26 := Version{2, 6, 14}
	for _, c := range []struct {
		golden string
		spec   Spec
		v      Version
	}{
		{"server.golden", Spec{Tap: "tap1", Role: Server, Port: 1191, KeyFile: "/var/lib/multilink/keys/br0.key"}, v26},
		{"client.golden", Spec{Tap: "tap2", Role: Client, Port: 1192, Remote: netip.MustParseAddr("192.0.2.1"),
			Device: "wwan0", Mark: 0x4d4c0001, KeyFile: "/var/lib/multilink/keys/bond0.key"}, v26},
		{"client-nomark.golden", Spec{Tap: "tap1", Role: Client, Port: 1191, Remote: netip.MustParseAddr("::ffff:198.51.100.7"),
			KeyFile: "/k"}, v26},
		{"client-2.7.golden", Spec{Tap: "tap1", Role: Client, Port: 1191, Remote: netip.MustParseAddr("2001:db8::1"),
			Device: "eth0.100", Mark: 7, KeyFile: "/k"}, Version{2, 7, 0}},
		{"client-keepalive.golden", Spec{Tap: "tap1", Role: Client, Port: 1191, Remote: netip.MustParseAddr("192.0.2.1"),
			KeyFile: "/k", Keepalive: 25 * time.Second}, v26},
		{"client-user.golden", Spec{Tap: "tap1", Role: Client, Port: 1191, Remote: netip.MustParseAddr("192.0.2.1"), Device: "eth0", Mark: 7,
			KeyFile: "/k", User: "nobody", Group: "nogroup"}, v26},
		{"server-tls.golden", Spec{Tap: "tap1", Role: Server, Port: 1191, Mode: ModeTLS, CertFile: "/var/lib/multilink/identity/tunnel.crt",
			CertKeyFile: "/var/lib/multilink/identity/tunnel.key", PeerFingerprints: []string{fpA, strings.ToLower(strings.ReplaceAll(fpB, ":", ""))}}, v26},
		{"client-tls.golden", Spec{Tap: "tap2", Role: Client, Port: 1192, Remote: netip.MustParseAddr("192.0.2.1"), Device: "wwan0", Mark: 0x4d4c0001,
			Mode: ModeTLS, CertFile: "/c", CertKeyFile: "/k", PeerFingerprints: []string{fpA}}, v26},
	} {
		t.Run(c.golden, func(t *testing.T) {
			got, err := Render(c.spec, c.v)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.golden)
			if want := testsupport.Golden(t, path, got, *update); string(got) != string(want) {
				t.Errorf("config differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
			}
		})
	}
}

// Two fingerprints for the TLS cases.
const (
	fpA = "60:96:32:83:EB:C2:86:21:53:5A:81:C4:FF:6D:8A:C8:42:44:02:47:FA:D8:60:3D:96:AB:BF:88:F6:87:3B:99"
	fpB = "3E:46:98:97:12:5F:A3:30:95:C3:D9:D6:DD:70:F1:0B:D8:1A:3C:C8:09:4A:D8:F4:FC:42:C6:9B:FC:E1:7E:FB"
)

// TestRenderUserNeeds26: openvpn drops to its user only where it can run
// on after a restart: OpenVPN 2.6 (it keeps CAP_NET_ADMIN), and a server
// port it may bind again (1024 and up).
func TestRenderUserNeeds26(t *testing.T) {
	for _, c := range []struct {
		spec Spec
		v    Version
		want bool
	}{
		{Spec{Tap: "tap1", Role: Server, Port: 1191, KeyFile: "/k", User: "nobody", Group: "nogroup"}, Version{2, 6, 0}, true},
		{Spec{Tap: "tap1", Role: Server, Port: 1191, KeyFile: "/k", User: "nobody", Group: "nogroup"}, Version{2, 5, 9}, false},
		{Spec{Tap: "tap1", Role: Server, Port: 443, KeyFile: "/k", User: "nobody", Group: "nogroup"}, Version{2, 6, 0}, false},
		{Spec{Tap: "tap1", Role: Server, Port: 1191, KeyFile: "/k"}, Version{2, 6, 0}, false},
	} {
		got, err := Render(c.spec, c.v)
		if err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(string(got), "\nuser nobody\ngroup nogroup\n"); has != c.want {
			t.Errorf("port %d, openvpn %s, user %q: drops privileges %t, want %t", c.spec.Port, c.v, c.spec.User, has, c.want)
		}
	}
	bad := Spec{Tap: "tap1", Role: Server, Port: 1191, KeyFile: "/k", User: "nobody\nscript-security 3", Group: "nogroup"}
	if _, err := Render(bad, Version{2, 6, 0}); !errors.Is(err, errkind.ErrInvalid) {
		t.Errorf("a user name with a newline: %v, want invalid", err)
	}
	if _, err := Render(Spec{Tap: "tap1", Role: Server, Port: 1191, KeyFile: "/k", User: "nobody"}, Version{2, 6, 0}); !errors.Is(err, errkind.ErrInvalid) {
		t.Errorf("a user without a group: %v, want invalid", err)
	}
}

// TestRenderTLSNeeds26: TLS mode with an OpenVPN older than 2.6 is
// refused as unsupported, naming static mode as the way out.
func TestRenderTLSNeeds26(t *testing.T) {
	s := Spec{Tap: "tap1", Role: Server, Port: 1191, Mode: ModeTLS, CertFile: "/c", CertKeyFile: "/k", PeerFingerprints: []string{fpA}}
	_, err := Render(s, Version{2, 5, 9})
	if !errors.Is(err, errkind.ErrUnsupported) || !strings.Contains(err.Error(), "2.6") || !strings.Contains(err.Error(), `"static"`) {
		t.Fatalf("Render with 2.5.9 = %v, want unsupported naming 2.6 and static mode", err)
	}
}

func TestRenderRejectsTLS(t *testing.T) {
	ok := Spec{Tap: "tap1", Role: Client, Port: 1191, Remote: netip.MustParseAddr("192.0.2.1"), Mode: ModeTLS,
		CertFile: "/c", CertKeyFile: "/k", PeerFingerprints: []string{fpA}}
	for name, edit := range map[string]func(*Spec){
		"unknown mode":         func(s *Spec) { s.Mode = "psk" },
		"no fingerprint":       func(s *Spec) { s.PeerFingerprints = nil },
		"short fingerprint":    func(s *Spec) { s.PeerFingerprints = []string{fpA[:90]} },
		"fingerprint newline":  func(s *Spec) { s.PeerFingerprints = []string{fpA + "\n</peer-fingerprint>\nup /bin/sh"} },
		"misplaced colons":     func(s *Spec) { s.PeerFingerprints = []string{"6:09" + fpA[4:]} },
		"not hex":              func(s *Spec) { s.PeerFingerprints = []string{strings.Replace(fpA, "60", "ZZ", 1)} },
		"no cert":              func(s *Spec) { s.CertFile = "" },
		"relative cert key":    func(s *Spec) { s.CertKeyFile = "k" },
		"cert path with space": func(s *Spec) { s.CertFile = "/a b" },
	} {
		t.Run(name, func(t *testing.T) {
			s := ok
			edit(&s)
			if _, err := Render(s, Version{2, 6, 14}); !errors.Is(err, errkind.ErrInvalid) {
				t.Fatalf("Render = %v, want an errkind.Invalid error", err)
			}
		})
	}
	if _, err := Render(ok, Version{2, 6, 14}); err != nil {
		t.Fatalf("valid spec rejected: %v", err)
	}
}

func TestRenderRejects(t *testing.T) {
	ok := Spec{Tap: "tap1", Role: Client, Port: 1191, Remote: netip.MustParseAddr("192.0.2.1"), Device: "eth0", KeyFile: "/k"}
	for _, c := range []struct {
		name string
		edit func(*Spec)
	}{
		{"tap with newline", func(s *Spec) { s.Tap = "tap1\nup /bin/sh" }},
		{"tap with space", func(s *Spec) { s.Tap = "tap 1" }},
		{"empty tap", func(s *Spec) { s.Tap = "" }},
		{"device with quote", func(s *Spec) { s.Device = `eth0"` }},
		{"port 0", func(s *Spec) { s.Port = 0 }},
		{"port too big", func(s *Spec) { s.Port = 70000 }},
		{"mark beyond int32", func(s *Spec) { s.Mark = 0x80000000 }},
		{"no role", func(s *Spec) { s.Role = "" }},
		{"client without remote", func(s *Spec) { s.Remote = netip.Addr{} }},
		{"client to 0.0.0.0", func(s *Spec) { s.Remote = netip.IPv4Unspecified() }},
		{"client with zone", func(s *Spec) { s.Remote = netip.MustParseAddr("fe80::1%eth0") }},
		{"server with remote", func(s *Spec) { s.Role = Server }},
		{"relative key", func(s *Spec) { s.KeyFile = "k" }},
		{"key with space", func(s *Spec) { s.KeyFile = "/a b" }},
		{"key with newline", func(s *Spec) { s.KeyFile = "/a\nscript-security 3" }},
		{"unclean key path", func(s *Spec) { s.KeyFile = "/a/../k" }},
		{"no key", func(s *Spec) { s.KeyFile = "" }},
		{"keepalive under a second", func(s *Spec) { s.Keepalive = 500 * time.Millisecond }},
		{"keepalive not whole seconds", func(s *Spec) { s.Keepalive = 1500 * time.Millisecond }},
		{"keepalive over 5 minutes", func(s *Spec) { s.Keepalive = 6 * time.Minute }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := ok
			c.edit(&s)
			if _, err := Render(s, Version{2, 6, 14}); !errors.Is(err, errkind.ErrInvalid) {
				t.Fatalf("Render = %v, want an errkind.Invalid error", err)
			}
		})
	}
	if _, err := Render(ok, Version{2, 6, 14}); err != nil {
		t.Fatalf("valid spec rejected: %v", err)
	}
}

// TestRenderRekey: the server end renegotiates at Spec.Rekey (an hour by
// default); the client end never starts a renegotiation.
func TestRenderRekey(t *testing.T) {
	base := Spec{Tap: "tap1", Port: 1191, Mode: ModeTLS, CertFile: "/c", CertKeyFile: "/k", PeerFingerprints: []string{fpA}}
	for _, c := range []struct {
		role  Role
		rekey time.Duration
		want  string
	}{{Server, 0, "reneg-sec 3600\n"}, {Server, 10 * time.Second, "reneg-sec 10\n"}, {Client, 0, "reneg-sec 0\n"}, {Client, 10 * time.Second, "reneg-sec 0\n"}} {
		s := base
		s.Role, s.Rekey = c.role, c.rekey
		if c.role == Client {
			s.Remote = netip.MustParseAddr("192.0.2.1")
		}
		got, err := Render(s, Version{2, 6, 14})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(got), "\n"+c.want) {
			t.Errorf("%s with rekey %s: no %q in\n%s", c.role, c.rekey, c.want, got)
		}
	}
}
