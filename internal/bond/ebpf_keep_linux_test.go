package bond

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netns"

	"github.com/multilink/multilink/internal/bpf"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/tcattach"
)

// newEBPFDriver is an eBPF driver in gw pinning under pins.
func newEBPFDriver(t *testing.T, gw *nstest.NS, mode, pins string) *EBPF {
	t.Helper()
	e, err := NewEBPF(gw.Handle, netns.NsHandle(gw.Fd()), mode, pins, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return e
}

// tcxLinks maps the ifindex of each link pinned in dir to the link's id.
func tcxLinks(t *testing.T, dir string) map[int]link.ID {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]link.ID{}
	for _, ent := range ents {
		l, err := link.LoadPinnedLink(filepath.Join(dir, ent.Name()), nil)
		if err != nil {
			t.Fatalf("open pin %s: %v", ent.Name(), err)
		}
		info, err := l.Info()
		l.Close()
		if err != nil || info.TCX() == nil {
			t.Fatalf("pin %s: %+v %v", ent.Name(), info, err)
		}
		out[int(info.TCX().Ifindex)] = info.ID
	}
	return out
}

// legacyFilters maps each ifindex of the bond to its filters of ours.
func legacyFilters(t *testing.T, gw *nstest.NS, names ...string) map[string][]uint32 {
	t.Helper()
	out := map[string][]uint32{}
	for _, n := range names {
		l, err := gw.Handle.LinkByName(n)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := tcattach.Filters(gw.Handle, l.Attrs().Index, ebpfFilter)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			out[n] = append(out[n], f.Attrs().Handle)
		}
	}
	return out
}

func outFrames(t *testing.T, e *EBPF, gw *nstest.NS) uint64 {
	t.Helper()
	peer, err := gw.Handle.LinkByName(peerName("bond0"))
	if err != nil {
		t.Fatal(err)
	}
	var per []bpf.BondBondCounters
	if err := e.obj.Counters.Lookup(uint32(peer.Attrs().Index), &per); err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, p := range per {
		n += p.OutFrames
	}
	return n
}

func ifindex(t *testing.T, ns *nstest.NS, name string) int {
	t.Helper()
	l, err := ns.Handle.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l.Attrs().Index
}

// TestEBPFBondHandOver: a driver Releases its bond, a new one (same pin
// dir) Creates the same spec and takes the bond over while a 10 ms ping
// crosses it: none lost, the active link (tap2, steered there) kept, the
// counters and the attachments kept. A member made again while no driver
// ran gets a new attachment, the others keep theirs. Delete unpins all.
func TestEBPFBondHandOver(t *testing.T) {
	nstest.RequireCommand(t, "ping")
	nstest.RequireCommand(t, "bridge")
	for _, mode := range []string{tcattach.TCX, tcattach.Legacy} {
		t.Run(mode, func(t *testing.T) {
			if mode == tcattach.TCX && !nstest.KernelAtLeast(t, 6, 6) {
				t.Skip("TCX needs Linux 6.6")
			}
			ctx := context.Background()
			pins := filepath.Join(nstest.BPFFS(t), "multilink", "0123456789abcdef", "bond")
			links := filepath.Join(pins, "links")
			gw, hub := newTopology(t, false)
			l := &ebpfLab{gw: gw, hub: hub}
			// A bridge takes the lowest MAC of its ports unless given one:
			// a hub port made again below would change it, and the
			// gateway's ARP entry for the hub would be stale.
			br, err := hub.Handle.LinkByName("br0")
			if err != nil {
				t.Fatal(err)
			}
			if err := hub.Handle.LinkSetHardwareAddr(br, net.HardwareAddr{0x02, 0, 0, 0, 0, 0xfe}); err != nil {
				t.Fatal(err)
			}
			e1 := newEBPFDriver(t, gw, mode, pins)
			s := specBond()
			s.Mark = testMark
			if err := e1.Create(ctx, s); err != nil {
				t.Fatalf("create: %v", err)
			}
			if err := e1.Switch(ctx, "bond0", "tap2", 0); err != nil {
				t.Fatal(err)
			}
			ping(t, gw, "10.8.0.254")
			bondMAC := l.mac(t, "bond0")
			if p := l.hubPort(t, bondMAC); p != "hub2" {
				t.Fatalf("hub learnt the bond on %q, want hub2", p)
			}
			devs := []string{peerName("bond0"), "tap1", "tap2"}
			var ids map[int]link.ID
			var filters map[string][]uint32
			if mode == tcattach.TCX {
				ids = tcxLinks(t, links)
				if len(ids) != 3 {
					t.Fatalf("%d links pinned, want 3: %v", len(ids), ids)
				}
			} else {
				filters = legacyFilters(t, gw, devs...)
			}
			frames := outFrames(t, e1, gw)
			bondIndex := ifindex(t, gw, "bond0")

			var e2 *EBPF
			lost := gw.PingLoss(t, "10.8.0.254", func() {
				if err := e1.Release(ctx); err != nil {
					t.Fatalf("release: %v", err)
				}
				e2 = newEBPFDriver(t, gw, mode, pins)
				if err := e2.Create(ctx, s); err != nil {
					t.Fatalf("create over the released bond: %v", err)
				}
			})
			if lost != 0 {
				t.Errorf("%d pings lost across the hand-over", lost)
			}
			info, err := e2.Info(ctx, "bond0")
			if err != nil || info.Active != "tap2" || !info.Up {
				t.Errorf("after the hand-over: %+v %v, want tap2 active, up", info, err)
			}
			if i := ifindex(t, gw, "bond0"); i != bondIndex {
				t.Errorf("bond0 was made again: ifindex %d, was %d", i, bondIndex)
			}
			if f := outFrames(t, e2, gw); f < frames+250 {
				t.Errorf("counters %d after, %d before the stream: not the pinned map", f, frames)
			}
			if mode == tcattach.TCX {
				if now := tcxLinks(t, links); !mapsEqual(now, ids) {
					t.Errorf("links %v after the hand-over, want %v", now, ids)
				}
			} else if now := legacyFilters(t, gw, devs...); !mapsEqual2(now, filters) {
				t.Errorf("filters %v after the hand-over, want %v", now, filters)
			}
			if p := l.hubPort(t, bondMAC); p != "hub2" {
				t.Errorf("after the hand-over the hub has the bond on %q, want hub2", p)
			}

			// tap1 (the backup) is made again while no driver runs.
			if err := e2.Release(ctx); err != nil {
				t.Fatal(err)
			}
			old1 := ifindex(t, gw, "tap1")
			tap1, _ := gw.Handle.LinkByName("tap1")
			if err := gw.Handle.LinkDel(tap1); err != nil {
				t.Fatal(err)
			}
			nstest.Veth(t, gw, "tap1", "", hub, "hub1", "")
			hub1, _ := hub.Handle.LinkByName("hub1")
			if err := hub.Handle.LinkSetMaster(hub1, br); err != nil {
				t.Fatal(err)
			}
			new1 := ifindex(t, gw, "tap1")
			e3 := newEBPFDriver(t, gw, mode, pins)
			if err := e3.Create(ctx, s); err != nil {
				t.Fatalf("create with tap1 made again: %v", err)
			}
			if info, _ := e3.Info(ctx, "bond0"); info.Active != "tap2" {
				t.Errorf("active %q after tap1 was made again, want tap2", info.Active)
			}
			if mode == tcattach.TCX {
				now := tcxLinks(t, links)
				for i, id := range ids {
					if i == old1 {
						continue
					}
					if now[i] != id {
						t.Errorf("ifindex %d: link %d became %d", i, id, now[i])
					}
				}
				if _, ok := now[new1]; !ok || len(now) != 3 {
					t.Errorf("links %v: want the new tap1 (%d) and the two kept ones, not the old tap1 (%d)", now, new1, old1)
				}
			} else {
				now := legacyFilters(t, gw, devs...)
				for _, n := range devs {
					if len(now[n]) != 1 {
						t.Errorf("%s: filters %v, want one", n, now[n])
					}
				}
			}
			if err := e3.Switch(ctx, "bond0", "tap1", 0); err != nil {
				t.Fatal(err)
			}
			ping(t, gw, "10.8.0.254")
			if p := l.hubPort(t, bondMAC); p != "hub1" {
				t.Errorf("after the switch to the new tap1 the hub has the bond on %q, want hub1", p)
			}

			if err := e3.Delete(ctx, "bond0"); err != nil {
				t.Fatal(err)
			}
			ents, err := os.ReadDir(pins)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			if len(ents) != 0 {
				t.Errorf("pins left after the last bond's delete: %v", ents)
			}
			for _, n := range []string{"tap1", "tap2"} {
				if mode == tcattach.TCX {
					err := gw.Do(func() error {
						r, err := link.QueryPrograms(link.QueryOptions{Target: ifindex(t, gw, n), Attach: ebpf.AttachTCXIngress})
						if err == nil && len(r.Programs) != 0 {
							t.Errorf("%s: %d TCX programs left", n, len(r.Programs))
						}
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
				} else if fs := legacyFilters(t, gw, n); len(fs[n]) != 0 {
					t.Errorf("%s: filters left %v", n, fs)
				}
			}
		})
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func mapsEqual2(a, b map[string][]uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w := b[k]
		if len(v) != len(w) {
			return false
		}
		for i := range v {
			if v[i] != w[i] {
				return false
			}
		}
	}
	return true
}

// TestChooserEBPFLeft: the Chooser hands an eBPF bond left to the eBPF
// driver (automatic driver), and has it removed, pins too, when the kernel
// driver is asked for.
func TestChooserEBPFLeft(t *testing.T) {
	ctx := context.Background()
	pins := filepath.Join(nstest.BPFFS(t), "bond")
	gw, _ := newTopology(t, false)
	s := specBond()
	s.Mark = testMark
	e1 := newEBPFDriver(t, gw, tcattach.Auto, pins)
	if err := e1.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := e1.Switch(ctx, "bond0", "tap2", 0); err != nil {
		t.Fatal(err)
	}
	if err := e1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	index := ifindex(t, gw, "bond0")
	e2 := newEBPFDriver(t, gw, tcattach.Auto, pins)
	c, err := NewChooser(nil, e2, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, s); err != nil {
		t.Fatalf("create over the bond left: %v", err)
	}
	if i, err := c.Info(ctx, "bond0"); err != nil || i.Active != "tap2" || ifindex(t, gw, "bond0") != index {
		t.Errorf("after the take-over: %+v %v", i, err)
	}
	if err := c.Release(ctx); err != nil {
		t.Fatal(err)
	}
	ping(t, gw, "10.8.0.254")

	e3 := newEBPFDriver(t, gw, tcattach.Auto, pins)
	c, err = NewChooser(nil, e3, "")
	if err != nil {
		t.Fatal(err)
	}
	s.Driver = "kernel"
	if err := c.Create(ctx, s); err == nil {
		t.Fatal("create with the kernel driver, which is not there, worked")
	}
	if _, err := gw.Handle.LinkByName("bond0"); err == nil {
		t.Error("the eBPF bond left is still there")
	}
	ents, _ := os.ReadDir(filepath.Join(pins, "links"))
	if len(ents) != 0 {
		t.Errorf("link pins left: %v", ents)
	}
}
