package owner_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/multilink/multilink/internal/owner"
	"github.com/multilink/multilink/internal/testsupport"
)

func TestLoadKeepsTheInstance(t *testing.T) {
	dir := t.TempDir()
	m1, err := owner.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := owner.Load(dir)
	if err != nil || m2 != m1 || !strings.HasPrefix(string(m1), "multilink:") {
		t.Fatalf("marks %q then %q (%v), want one stable mark", m1, m2, err)
	}
	other, err := owner.Load(t.TempDir())
	if err != nil || other == m1 {
		t.Errorf("another state dir's mark %q (%v)", other, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "instance"), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Load(dir); err == nil || !strings.Contains(err.Error(), "instance") {
		t.Errorf("damaged id: %v, want an error naming the file", err)
	}
}

// TestSweep removes what carries the mark and nothing else: not another
// state dir's mark, not an unmarked interface of the same name kind.
func TestSweep(t *testing.T) {
	n := testsupport.NewFakeNetlink("eth0", "br9")
	mark := owner.Mark("multilink:0123456789abcdef")
	for name, alias := range map[string]string{"br0": string(mark), "tap1": string(mark), "br1": "multilink:fedcba9876543210"} {
		l := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
		n.AddLink(l)
		if err := n.LinkSetAlias(l, alias); err != nil {
			t.Fatal(err)
		}
	}
	gone, err := owner.Sweep(n, mark, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(gone, ",") != "br0,tap1" {
		t.Errorf("removed %v, want br0 and tap1", gone)
	}
	if got := strings.Join(n.Links(), ","); got != "br1,br9,eth0" {
		t.Errorf("left %s, want br1, br9, eth0", got)
	}
}

// TestSweepKeeps spares the interfaces the caller adopted.
func TestSweepKeeps(t *testing.T) {
	n := testsupport.NewFakeNetlink("eth0")
	mark := owner.Mark("multilink:0123456789abcdef")
	for _, name := range []string{"bond0", "mlb0", "tap1", "tap9"} {
		n.AddLink(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: name, Alias: string(mark)}})
	}
	used := map[string]bool{"bond0": true, "mlb0": true, "tap1": true}
	gone, err := owner.Sweep(n, mark, func(name string) bool { return used[name] }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(gone, ",") != "tap9" {
		t.Errorf("removed %v, want tap9 only", gone)
	}
	if got := strings.Join(n.Links(), ","); got != "bond0,eth0,mlb0,tap1" {
		t.Errorf("left %s", got)
	}
}
