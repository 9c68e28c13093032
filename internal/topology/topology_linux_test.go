package topology

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/nstest"
)

// TestTopology builds each kind of world, pings across both underlays,
// and checks that Close removes every namespace.
func TestTopology(t *testing.T) {
	nstest.RequireAdmin(t)
	nstest.RequireCommand(t, "ip")
	nstest.RequireCommand(t, "ping")
	for _, kind := range []struct {
		name string
		kind Kind
		nss  int
	}{{"veth", VethPairs, 2}, {"emulated", Emulated, 3}} {
		t.Run(kind.name, func(t *testing.T) {
			tp, err := New(context.Background(), Options{Prefix: "mltopo", Kind: kind.kind})
			if err != nil {
				t.Fatal(err)
			}
			names := []string{tp.Hub.Name, tp.Gw.Name}
			if tp.Net.Name != "" {
				names = append(names, tp.Net.Name)
			}
			if len(names) != kind.nss || (kind.kind == Emulated) != (tp.Links[0] != nil && tp.Links[1] != nil) {
				t.Errorf("namespaces %v, links %v", names, tp.Links)
			}
			closed := false
			t.Cleanup(func() {
				if !closed {
					_ = tp.Close()
				}
			})
			gw := nstest.Adopt(t, tp.Gw.Name, tp.Gw.Handle)
			for _, u := range Underlays() {
				out := gw.Run(t, "ping", "-c", "1", "-W", "2", "-I", u.Dev, u.Hub)
				if !strings.Contains(out, "1 received") {
					t.Errorf("ping %s over %s: %s", u.Hub, u.Dev, out)
				}
			}
			closed = true
			if err := tp.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if err := tp.Close(); err != nil {
				t.Errorf("second close: %v", err)
			}
			for _, n := range names {
				if _, err := os.Stat("/var/run/netns/" + n); !os.IsNotExist(err) {
					t.Errorf("netns %s left after Close (%v)", n, err)
				}
			}
		})
	}
}
