package probe

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/bpf"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/tcattach"
)

// kept is what a link must keep across a Release and a new Monitor's Add.
type kept struct {
	idx         uint32
	mac         net.HardwareAddr
	adopted     bool
	counters    api.LinkCounters
	lastReplyNs uint64
}

func keptOf(t *testing.T, m *Monitor, tap string) kept {
	t.Helper()
	m.mu.Lock()
	p, ok := m.links[tap]
	m.mu.Unlock()
	if !ok {
		t.Fatalf("%s is not probed", tap)
	}
	kv, err := m.obj.readLink(p.obj)
	if err != nil {
		t.Fatal(err)
	}
	return kept{idx: p.obj.idx, mac: p.base, adopted: p.adopted, counters: kv.LinkCounters, lastReplyNs: kv.lastReplyNs}
}

// pinnedMonitor is a Monitor on the world's gateway with both TAPs added;
// it is closed when the test ends unless released before.
func (w *world) pinnedMonitor(t *testing.T, opts Options) *Monitor {
	t.Helper()
	opts.NetNS = w.gw.Path()
	m, err := NewMonitor(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	for _, tap := range []string{"tap1", "tap2"} {
		if err := m.Add(context.Background(), LinkSpec{Bond: "bond0", Link: tap, Target: hubIP, Active: tap == "tap1"}); err != nil {
			t.Fatalf("add %s: %v", tap, err)
		}
	}
	return m
}

// attachedOnce fails unless exactly one program of ours runs in each
// direction of dev.
func attachedOnce(t *testing.T, w *world, mode, dev string) {
	t.Helper()
	if mode == tcattach.TCX {
		for _, at := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
			if n := tcxPrograms(t, w.gw, dev, at); n != 1 {
				t.Errorf("%s: %d TCX programs (%s), want 1", dev, n, at)
			}
		}
		return
	}
	if n := ourFilters(t, w.gw, dev); n != 2 {
		t.Errorf("%s: %d filters of ours, want 2 (one each way)", dev, n)
	}
}

// notAttached fails if a program of ours is left on dev.
func notAttached(t *testing.T, w *world, mode, dev string) {
	t.Helper()
	if mode == tcattach.TCX {
		for _, at := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
			if n := tcxPrograms(t, w.gw, dev, at); n != 0 {
				t.Errorf("%s: %d TCX programs left (%s)", dev, n, at)
			}
		}
		return
	}
	if n := ourFilters(t, w.gw, dev); n != 0 {
		t.Errorf("%s: %d filters of ours left", dev, n)
	}
}

// TestMonitorAdoptsPins: a Monitor releases its links (stays attached and
// pinned); the next one with the same PinDir takes them over: same index,
// same probe MAC, counters and last reply kept, replies keep coming. A link
// whose program pin is gone gets this build's programs for its kept entry;
// one whose entry is damaged is loaded afresh; both attachments replaced.
// Close unpins everything. Both attach modes run on the host (legacy
// forced), so both paths run in every CI.
func TestMonitorAdoptsPins(t *testing.T) {
	w := newWorld(t)
	for _, mode := range []string{tcattach.Legacy, tcattach.TCX} {
		t.Run(mode, func(t *testing.T) {
			if mode == tcattach.TCX && !haveTCX(t) {
				t.Skip("TCX needs Linux 6.6; the lab's 6.1 runs the legacy case")
			}
			opts := Options{Attach: mode, PinDir: filepath.Join(nstest.BPFFS(t), "probe"), Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
			m1 := w.pinnedMonitor(t, opts)
			waitReplies(t, m1, "tap1", 10, 30*time.Second)
			waitReplies(t, m1, "tap2", 1, 20*time.Second)
			before := map[string]kept{"tap1": keptOf(t, m1, "tap1"), "tap2": keptOf(t, m1, "tap2")}
			if err := m1.Release(); err != nil {
				t.Fatalf("release: %v", err)
			}
			for _, tap := range []string{"tap1", "tap2"} {
				attachedOnce(t, w, mode, tap)
			}

			m2 := w.pinnedMonitor(t, opts)
			for _, tap := range []string{"tap1", "tap2"} {
				b, a := before[tap], keptOf(t, m2, tap)
				if !a.adopted || a.idx != b.idx || a.mac.String() != b.mac.String() {
					t.Errorf("%s: adopted %t, index %d, probe MAC %s; before: index %d, probe MAC %s", tap, a.adopted, a.idx, a.mac, b.idx, b.mac)
				}
				if c, d := a.counters, b.counters; c.ProbesSent < d.ProbesSent || c.ProbeReplies < d.ProbeReplies ||
					c.ArpRequests < d.ArpRequests || c.ArpReplies < d.ArpReplies || c.RxFrames < d.RxFrames || c.TxFrames < d.TxFrames {
					t.Errorf("%s: counters went back: %+v, before %+v", tap, c, d)
				}
				if a.lastReplyNs < b.lastReplyNs {
					t.Errorf("%s: last reply at %d ns, before %d ns", tap, a.lastReplyNs, b.lastReplyNs)
				}
				attachedOnce(t, w, mode, tap)
			}
			waitReplies(t, m2, "tap1", before["tap1"].counters.ProbeReplies+10, 20*time.Second)
			if a := keptOf(t, m2, "tap1"); a.lastReplyNs <= before["tap1"].lastReplyNs {
				t.Errorf("tap1: no reply after the take-over (last reply %d ns, before %d ns)", a.lastReplyNs, before["tap1"].lastReplyNs)
			}
			if lr := m2.LastReply("tap1"); time.Since(lr) > 5*time.Second {
				t.Errorf("tap1: LastReply %v ago", time.Since(lr))
			}

			// While no Monitor runs, a pin of tap1's programs goes (as when
			// a new build's programs differ): its entry is kept (index,
			// probe MAC, ARP statistics, last reply), its programs and
			// traffic counters are this build's, from zero. tap2's entry is
			// damaged (no probe MAC of ours): it is loaded afresh, at the
			// index its device held.
			before = map[string]kept{"tap1": keptOf(t, m2, "tap1"), "tap2": keptOf(t, m2, "tap2")}
			if err := m2.Release(); err != nil {
				t.Fatalf("release: %v", err)
			}
			if err := os.Remove(filepath.Join(opts.PinDir, "links", "tap1", pinEgress)); err != nil {
				t.Fatal(err)
			}
			configs, err := ebpf.LoadPinnedMap(filepath.Join(opts.PinDir, "maps", bpf.ProbeMapConfigs), nil)
			if err != nil {
				t.Fatal(err)
			}
			err = configs.Put(before["tap2"].idx, bpf.ProbeLinkConfig{})
			configs.Close()
			if err != nil {
				t.Fatal(err)
			}
			m3 := w.pinnedMonitor(t, opts)
			a, b := keptOf(t, m3, "tap1"), before["tap1"]
			if !a.adopted || a.idx != b.idx || a.mac.String() != b.mac.String() || a.lastReplyNs < b.lastReplyNs ||
				a.counters.ProbeReplies < b.counters.ProbeReplies || a.counters.ProbesSent < b.counters.ProbesSent {
				t.Errorf("tap1's entry not kept: %+v, before %+v", a, b)
			}
			if a.counters.RxFrames >= b.counters.RxFrames {
				t.Errorf("tap1's programs not reloaded: %d frames received, before %d", a.counters.RxFrames, b.counters.RxFrames)
			}
			a, b = keptOf(t, m3, "tap2"), before["tap2"]
			if a.adopted || a.mac.String() == b.mac.String() || a.idx != b.idx {
				t.Errorf("tap2 with a damaged entry: adopted %t, index %d, probe MAC %s; before: index %d, probe MAC %s", a.adopted, a.idx, a.mac, b.idx, b.mac)
			}
			for _, tap := range []string{"tap1", "tap2"} {
				attachedOnce(t, w, mode, tap)
			}
			waitReplies(t, m3, "tap1", before["tap1"].counters.ProbeReplies+10, 20*time.Second)
			waitReplies(t, m3, "tap2", 1, 20*time.Second)

			if err := m3.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if _, err := os.Stat(opts.PinDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("pin dir after Close: %v", err)
			}
			for _, tap := range []string{"tap1", "tap2"} {
				notAttached(t, w, mode, tap)
			}
		})
	}
}

// TestAdoptChecksPrograms: pinned programs are taken over only when they
// are the instructions this daemon loads on this kernel (the spec as
// patched for it), bound to the link's index; programs of another build
// (here: the precise-clock patch, as on a kernel before 5.11) are
// replaced, the entry kept. Shared maps of another layout (the events
// map without a ring buffer) are not taken over: every pin goes.
func TestAdoptChecksPrograms(t *testing.T) {
	nstest.RequireAdmin(t)
	dir := filepath.Join(nstest.BPFFS(t), "probe")
	load := func(opts loadOptions) *objects {
		t.Helper()
		opts.pinDir = dir
		o, err := loadObjects(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.reserve(func(uint32) bool { return true }); err != nil {
			t.Fatal(err)
		}
		return o
	}
	base, err := NewProbeMAC()
	if err != nil {
		t.Fatal(err)
	}
	cfg := bpf.ProbeLinkConfig{}
	copy(cfg.ProbeMac[:], base)

	o := load(loadOptions{preciseClock: true})
	if _, err := o.addLink("tap0", testIfindex+1, bpf.ProbeLinkConfig{}); err != nil { // index 0: another link's
		t.Fatal(err)
	}
	l, err := o.addLink("tap1", testIfindex, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if l.idx != 1 {
		t.Fatalf("index %d, want 1", l.idx)
	}
	o.Close() // as Release leaves it: the link's programs pinned, its entry in the maps
	_ = l.closeFDs()

	for _, c := range []struct {
		name    string
		opts    loadOptions
		adopted bool
	}{
		{"another build", loadOptions{}, false}, // the precise clock's calls replaced by the coarse clock's: reloaded
		{"this build", loadOptions{}, true},     // what the previous step pinned
		{"precise again", loadOptions{preciseClock: true}, false},
	} {
		o := load(c.opts)
		l, got, reloaded, err := o.adoptLink("tap1", testIfindex)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if l.idx != 1 || !bytes.Equal(got.ProbeMac[:], cfg.ProbeMac[:]) {
			t.Errorf("%s: index %d, probe MAC %x; want 1, %x", c.name, l.idx, got.ProbeMac, cfg.ProbeMac)
		}
		if (reloaded == nil) != c.adopted {
			t.Errorf("%s: programs taken over %t (%v), want %t", c.name, reloaded == nil, reloaded, c.adopted)
		}
		if !c.adopted && !errors.Is(reloaded, ebpf.ErrProgIncompatible) {
			t.Errorf("%s: reloaded because %v, want another build's instructions", c.name, reloaded)
		}
		_ = l.closeFDs()
		o.Close()
	}

	// The links map bound to another index: the programs' .rodata says
	// 1, the entry 0 (the link at index 0 is gone).
	o = load(loadOptions{preciseClock: true})
	if err := o.Links.Delete(uint32(testIfindex + 1)); err != nil {
		t.Fatal(err)
	}
	if err := o.Links.Put(uint32(testIfindex), uint32(0)); err != nil {
		t.Fatal(err)
	}
	if err := o.Configs.Put(uint32(0), cfg); err != nil {
		t.Fatal(err)
	}
	o.Close()
	o = load(loadOptions{preciseClock: true})
	l, _, reloaded, err := o.adoptLink("tap1", testIfindex)
	if err != nil {
		t.Fatal(err)
	}
	if reloaded == nil || !strings.Contains(reloaded.Error(), "bound to link index 1") {
		t.Errorf("programs bound to index 1 for entry 0: reloaded because %v", reloaded)
	}
	_ = l.closeFDs()
	o.Close()

	o = load(loadOptions{noRingbuf: true})
	defer o.Close()
	if o.reset == "" {
		t.Error("maps with a ring buffer taken over by a loader without one")
	}
	if _, err := os.Stat(filepath.Join(dir, "links", "tap1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tap1's pins after the maps were reset: %v", err)
	}
	if _, _, _, err := o.adoptLink("tap1", testIfindex); !errors.Is(err, errNotPinned) {
		t.Errorf("adopt after the maps were reset: %v, want nothing pinned", err)
	}
}
