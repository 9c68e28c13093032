package hub

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
	"github.com/multilink/multilink/internal/tunnel"
)

// fakeTunnels creates the TAP in the fake netlink on Start, as the real
// one does.
type fakeTunnels struct {
	mu       sync.Mutex // links stop and are reconfigured at once
	net      *testsupport.FakeNetlink
	running  map[string]tunnel.Spec
	restarts map[string]int // what Status reports per TAP
	failTap  string
}

func (f *fakeTunnels) Start(_ context.Context, s tunnel.Spec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.Tap == f.failTap {
		return errors.New("injected tunnel failure")
	}
	f.running[s.Tap] = s
	f.net.AddLink(&netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: s.Tap}})
	f.net.Note("tunnel start " + s.Tap)
	return nil
}

func (f *fakeTunnels) Reconfigure(_ context.Context, s tunnel.Spec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.running[s.Tap]; !ok {
		return errkind.NotFound("tap %s", s.Tap)
	}
	f.running[s.Tap] = s
	f.net.Note("tunnel reconfigure " + s.Tap + " " + strings.Join(s.PeerFingerprints, ","))
	return nil
}

func (f *fakeTunnels) Stop(_ context.Context, tap string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.running[tap]; !ok {
		return errkind.NotFound("tap %s", tap)
	}
	delete(f.running, tap)
	f.net.RemoveLink(tap)
	f.net.Note("tunnel stop " + tap)
	return nil
}

func (f *fakeTunnels) Status(tap string) (tunnel.Status, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.running[tap]
	return tunnel.Status{Tap: tap, Port: s.Port, Running: ok, AdminUp: ok, Restarts: f.restarts[tap]}, ok
}

func newHub(t *testing.T, existing ...string) (*Hub, *testsupport.FakeNetlink, *fakeTunnels, string) {
	n := testsupport.NewFakeNetlink(existing...)
	tun := &fakeTunnels{net: n, running: map[string]tunnel.Spec{}}
	dir := t.TempDir()
	return New(Options{Netlink: n, Tunnels: tun, KeyDir: dir, Identity: testIdentity(t)}), n, tun, dir
}

// staticServer is the spec's server body in the spec's static-key mode.
func staticServer(t *testing.T) api.Server {
	cfg := testsupport.SpecServer(t)
	cfg.TunnelMode = api.TunnelStatic
	return cfg
}

// testIdentity is a tunnel identity made for the test.
func testIdentity(t *testing.T) tunnel.Identity {
	t.Helper()
	id, err := tunnel.LoadIdentity(filepath.Join(t.TempDir(), "identity"))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestStartStop(t *testing.T) {
	h, n, tun, dir := newHub(t)
	ctx := context.Background()
	st, err := h.Start(ctx, staticServer(t))
	if err != nil {
		t.Fatal(err)
	}
	want := "add bridge br0|addr br0 10.8.0.254/24|up br0|tunnel start tap1|master tap1 br0|tunnel start tap2|master tap2 br0"
	if got := strings.Join(n.Ops(), "|"); got != want {
		t.Errorf("ops:\n got %s\nwant %s", got, want)
	}
	if len(st.Links) != 2 || st.Links[1].Port != 1192 || !st.Present {
		t.Errorf("status %+v", st)
	}
	if tun.running["tap2"].Port != 1192 || tun.running["tap1"].Role != tunnel.Server {
		t.Errorf("tunnel specs %+v", tun.running)
	}
	key := filepath.Join(dir, "br0.key")
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key %v %v", fi, err)
	}
	k, err := h.Key(ctx, "")
	if err != nil || !strings.Contains(k.Key, "OpenVPN Static key V1") || len(k.Links) != 2 || k.BridgeIP != "10.8.0.254" {
		t.Errorf("key %+v %v", k, err)
	}
	if _, err := h.Start(ctx, testsupport.SpecServer(t)); errkind.KindOf(err) != errkind.KindConflict {
		t.Errorf("second start: %v, want conflict", err)
	}
	if err := h.Stop(ctx, "br0"); err != nil {
		t.Fatal(err)
	}
	if len(n.Links()) != 0 || len(tun.running) != 0 {
		t.Errorf("left after stop: links %v tunnels %v", n.Links(), tun.running)
	}
	if _, err := os.Stat(key); !os.IsNotExist(err) {
		t.Errorf("key left after stop: %v", err)
	}
	if err := h.Stop(ctx, "br0"); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("second stop: %v, want not found", err)
	}
	if _, err := h.Key(ctx, ""); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("key with no server: %v", err)
	}
}

func TestStartRollsBack(t *testing.T) {
	for _, tc := range []struct {
		name            string
		failOn, failTap string
	}{
		{name: "address", failOn: "addr"},
		{name: "second tunnel", failTap: "tap2"},
		{name: "enslave", failOn: "master tap2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, n, tun, dir := newHub(t)
			n.FailOn(tc.failOn)
			tun.failTap = tc.failTap
			if _, err := h.Start(context.Background(), testsupport.SpecServer(t)); err == nil {
				t.Fatal("start succeeded")
			}
			if len(n.Links()) != 0 || len(tun.running) != 0 {
				t.Errorf("left after failed start: links %v tunnels %v", n.Links(), tun.running)
			}
			if files, _ := os.ReadDir(dir); len(files) != 0 {
				t.Errorf("files left: %v", files)
			}
			if len(h.Status(context.Background())) != 0 {
				t.Error("failed server listed")
			}
		})
	}
}

func TestConflicts(t *testing.T) {
	ctx := context.Background()
	h, _, _, _ := newHub(t, "br0")
	if _, err := h.Start(ctx, testsupport.SpecServer(t)); errkind.KindOf(err) != errkind.KindConflict {
		t.Errorf("foreign br0: %v, want conflict", err)
	}
	h, _, _, _ = newHub(t)
	if _, err := h.Start(ctx, testsupport.SpecServer(t)); err != nil {
		t.Fatal(err)
	}
	other := staticServer(t)
	other.BridgeInterface = "br1"
	if _, err := h.Start(ctx, other); errkind.KindOf(err) != errkind.KindConflict || !strings.Contains(err.Error(), "tap1") {
		t.Errorf("same TAPs: %v, want conflict naming tap1", err)
	}
	other.TapPrefix = "hub"
	if _, err := h.Start(ctx, other); errkind.KindOf(err) != errkind.KindConflict || !strings.Contains(err.Error(), "port") {
		t.Errorf("same ports: %v, want conflict on ports", err)
	}
	other.PortBase = 1201
	if _, err := h.Start(ctx, other); errkind.KindOf(err) != errkind.KindConflict || !strings.Contains(err.Error(), "br0") {
		t.Errorf("same subnet: %v, want conflict naming br0", err)
	}
	other.BridgeIP = netip.MustParsePrefix("10.9.0.254/24")
	if _, err := h.Start(ctx, other); err != nil {
		t.Errorf("distinct second server: %v", err)
	}
	if _, err := h.Key(ctx, ""); errkind.KindOf(err) != errkind.KindInvalid {
		t.Errorf("key without bridge among two: %v, want invalid", err)
	}
	if k, err := h.Key(ctx, "br1"); err != nil || k.Links[0].Tap != "hub1" || k.Links[0].Port != 1201 {
		t.Errorf("key br1: %+v %v", k, err)
	}
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSubnetInsideAnUnderlay: a bridge inside an underlay's subnet is a
// conflict naming the underlay, and nothing is made.
func TestSubnetInsideAnUnderlay(t *testing.T) {
	h, n, _, _ := newHub(t, "eth0")
	n.AddAddr("eth0", "10.8.0.0/16")
	_, err := h.Start(context.Background(), testsupport.SpecServer(t))
	if errkind.KindOf(err) != errkind.KindConflict || !strings.Contains(err.Error(), "eth0") {
		t.Fatalf("bridge inside eth0's 10.8.0.0/16: %v, want a conflict naming eth0", err)
	}
	if got := n.Links(); len(got) != 1 {
		t.Errorf("links after the refusal: %v", got)
	}
}

// TestBridgeMarked: a hub with a mark sets it on its bridge right after
// creating it, before the address.
func TestBridgeMarked(t *testing.T) {
	h, n, _, _ := newHub(t)
	h.opts.Mark = "multilink:0123456789abcdef"
	if _, err := h.Start(context.Background(), testsupport.SpecServer(t)); err != nil {
		t.Fatal(err)
	}
	l, err := n.LinkByName("br0")
	if err != nil || l.Attrs().Alias != "multilink:0123456789abcdef" {
		t.Fatalf("br0 %v %v, want it marked", l, err)
	}
	// A stable MAC: the same mark and name give the same, unicast and
	// locally administered, so gateways' neighbour entries survive a rebuild.
	mac := l.Attrs().HardwareAddr
	if len(mac) != 6 || mac[0]&0x03 != 0x02 || mac.String() != h.bridgeMAC("br0").String() || mac.String() == h.bridgeMAC("br1").String() {
		t.Errorf("br0 MAC %v", mac)
	}
	tr := strings.Join(n.Ops(), "\n")
	if i, j := strings.Index(tr, "alias br0"), strings.Index(tr, "addr br0"); i < 0 || j < i {
		t.Errorf("transcript:\n%s\nwant the mark before the address", tr)
	}
}
