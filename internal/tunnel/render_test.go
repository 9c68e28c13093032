package tunnel

import (
	"errors"
	"flag"
	"net/netip"
	"path/filepath"
	"testing"

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
	} {
		t.Run(c.golden, func(t *testing.T) {
			got, err := StaticKey{}.Render(c.spec, c.v)
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
	} {
		t.Run(c.name, func(t *testing.T) {
			s := ok
			c.edit(&s)
			if _, err := (StaticKey{}).Render(s, Version{2, 6, 14}); !errors.Is(err, errkind.ErrInvalid) {
				t.Fatalf("Render = %v, want an errkind.Invalid error", err)
			}
		})
	}
	if _, err := (StaticKey{}).Render(ok, Version{2, 6, 14}); err != nil {
		t.Fatalf("valid spec rejected: %v", err)
	}
}
