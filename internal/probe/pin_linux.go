package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"

	"github.com/multilink/multilink/internal/bpf"
	"github.com/multilink/multilink/internal/bpfpin"
)

// pins is where the probe's objects are pinned, so that a later run of
// the daemon takes them over: the shared maps by name under <dir>/maps,
// and each link's programs and .bss (and its TCX links, pinned by
// tcattach) under <dir>/links/<tap>. The maps have a directory of their
// own because one of them is called links. No dir: nothing is pinned.
type pins struct{ dir string }

// Pin file names in a link's directory.
const (
	pinIngress = "prog_ingress"
	pinEgress  = "prog_egress"
	pinBss     = "bss"
)

// sharedMaps are the maps every link's programs use, pinned by name.
var sharedMaps = [...]string{bpf.ProbeMapConfigs, bpf.ProbeMapStats, bpf.ProbeMapEvents, bpf.ProbeMapLinks, bpf.ProbeMapHostMacs}

func (p pins) maps() string { return filepath.Join(p.dir, "maps") }

// link is tap's directory ("" when not pinning): its programs, its .bss
// and the TCX links tcattach pins.
func (p pins) link(tap string) string {
	if p.dir == "" {
		return ""
	}
	return filepath.Join(p.dir, "links", tap)
}

// check says whether dir is, or would be made, on a bpffs: the nearest
// directory of its path that exists is checked.
func (p pins) check() error {
	for d := p.dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			if err := bpfpin.Check(d); err != nil {
				return fmt.Errorf("probe pin_dir %s: %w", p.dir, err)
			}
			return nil
		} else if !errors.Is(err, os.ErrNotExist) || d == filepath.Dir(d) {
			return fmt.Errorf("probe pin_dir %s: %w", p.dir, err)
		}
	}
}

// pinLink pins a freshly loaded link's programs and .bss for tap, each in
// place of what an earlier run pinned there (pinned under a temporary name,
// then renamed over it: the old pin stays valid until the new one is).
func (p pins) pinLink(tap string, in *instance) error {
	if p.dir == "" {
		return nil
	}
	dir := p.link(tap)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create probe pin directory: %w", err)
	}
	for _, o := range []struct {
		name string
		pin  func(string) error
	}{{pinIngress, in.ProbeIngress.Pin}, {pinEgress, in.ProbeEgress.Pin}, {pinBss, in.Bss.Pin}} {
		path := filepath.Join(dir, o.name)
		tmp := path + "_new" // bpffs refuses names with a dot
		if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale pin %s: %w", tmp, err)
		}
		if err := o.pin(tmp); err != nil {
			return fmt.Errorf("pin probe %s: %w", o.name, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("pin probe %s: %w", o.name, err)
		}
	}
	return nil
}

// removeLink unpins what is pinned for tap.
func (p pins) removeLink(tap string) error {
	if p.dir == "" || tap == "" {
		return nil
	}
	if err := bpfpin.RemoveAll(p.link(tap)); err != nil {
		return fmt.Errorf("unpin probe link %s: %w", tap, err)
	}
	return nil
}

// pruneGone unpins the directories of links whose device is gone (exists
// says): nothing of theirs runs any more, and no Add can take them over.
func (p pins) pruneGone(exists func(tap string) bool) error {
	if p.dir == "" {
		return nil
	}
	ents, err := os.ReadDir(filepath.Join(p.dir, "links"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list probe link pins: %w", err)
	}
	var errs []error
	for _, e := range ents {
		if e.IsDir() && !exists(e.Name()) {
			errs = append(errs, p.removeLink(e.Name()))
		}
	}
	return errors.Join(errs...)
}

// removeAll unpins everything of the probe.
func (p pins) removeAll() error {
	if p.dir == "" {
		return nil
	}
	if err := bpfpin.RemoveAll(p.dir); err != nil {
		return fmt.Errorf("unpin probe objects: %w", err)
	}
	return nil
}

// loadMaps creates the shared maps, or, when pinning, re-opens those an
// earlier run pinned if they are what the patched spec (this kernel, these
// options) makes, else unpins everything of the earlier run and creates
// them anew (o.reset says why).
func (o *objects) loadMaps() error {
	if o.pin.dir == "" {
		if err := o.spec.LoadAndAssign(&o.ProbeMaps, nil); err != nil {
			return fmt.Errorf("create probe maps: %w", err)
		}
		return nil
	}
	if err := o.pin.check(); err != nil {
		return err
	}
	spec := o.spec.Copy()
	for _, name := range sharedMaps {
		spec.Maps[name].Pinning = ebpf.PinByName
	}
	opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: o.pin.maps()}}
	for try := 0; ; try++ {
		if err := os.MkdirAll(o.pin.maps(), 0o700); err != nil {
			return fmt.Errorf("create probe pin directory: %w", err)
		}
		err := spec.LoadAndAssign(&o.ProbeMaps, opts)
		if err == nil {
			break
		}
		if try > 0 || !errors.Is(err, ebpf.ErrMapIncompatible) {
			return fmt.Errorf("create or open pinned probe maps: %w", err)
		}
		// Another layout (another build, or another choice of events
		// map): nothing pinned can be taken over.
		o.reset = err.Error()
		if err := o.pin.removeAll(); err != nil {
			return err
		}
	}
	o.sharedIDs = map[ebpf.MapID]bool{}
	for _, m := range []*ebpf.Map{o.Configs, o.Stats, o.Events, o.Links, o.HostMacs} {
		id, err := mapID(m)
		if err != nil {
			o.ProbeMaps.Close()
			return err
		}
		o.sharedIDs[id] = true
	}
	return nil
}

func mapID(m *ebpf.Map) (ebpf.MapID, error) {
	info, err := m.Info()
	if err != nil {
		return 0, fmt.Errorf("probe map info: %w", err)
	}
	id, ok := info.ID()
	if !ok {
		return 0, errors.New("probe map info: the kernel gives no map ID")
	}
	return id, nil
}

// reserve notes the link indexes the pinned links map holds, so that a
// new link does not take an index an earlier run's link may be taken
// over with. Entries of devices that no longer exist (exists says) go.
func (o *objects) reserve(exists func(ifindex uint32) bool) error {
	if o.pin.dir == "" {
		return nil
	}
	var ifindex, idx uint32
	var gone []uint32
	it := o.Links.Iterate()
	for it.Next(&ifindex, &idx) {
		if !exists(ifindex) || int(idx) >= len(o.used) {
			gone = append(gone, ifindex)
			continue
		}
		o.reserved[idx] = ifindex
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read pinned probe link indexes: %w", err)
	}
	for _, ifx := range gone {
		if err := o.Links.Delete(ifx); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("delete stale probe link index: %w", err)
		}
	}
	return nil
}

// errNotPinned: nothing of the link was pinned (a link new to this
// daemon, or no pinning): loading it fresh is no news.
var errNotPinned = errors.New("nothing pinned")

// adoptLink takes over tap's link as an earlier run left it pinned, in two
// parts. Its entry: the index (the links map's entry of ifindex), config
// (the probe MAC) and stats (ARP counters, last reply, RTT histogram),
// when the index is free and the config holds a probe MAC of ours; else
// err, nothing is changed, and the caller loads the link afresh. Its
// programs and .bss (the traffic counters): taken over when they are the
// ones this daemon loads (same instructions after this kernel's patches)
// bound to that index, the shared maps and that .bss; else (another
// build, a pin missing) this build's programs are loaded for the entry,
// with traffic counters from zero, and pinned in place of the old ones:
// reloaded says why.
func (o *objects) adoptLink(tap string, ifindex uint32) (_ *linkObjects, _ bpf.ProbeLinkConfig, reloaded, err error) {
	var cfg bpf.ProbeLinkConfig
	if o.pin.dir == "" {
		return nil, cfg, nil, errNotPinned
	}
	dir := o.pin.link(tap)
	var idx uint32
	if err := o.Links.Lookup(ifindex, &idx); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			if _, serr := os.Stat(dir); errors.Is(serr, os.ErrNotExist) {
				return nil, cfg, nil, errNotPinned
			}
			return nil, cfg, nil, fmt.Errorf("no link index for ifindex %d (the device was made anew)", ifindex)
		}
		return nil, cfg, nil, fmt.Errorf("read link index: %w", err)
	}
	if err := o.claim(idx, ifindex); err != nil {
		return nil, cfg, nil, err
	}
	l := &linkObjects{tap: tap, idx: idx, ifindex: ifindex}
	defer func() {
		if err != nil {
			_ = l.closeFDs()
			o.unclaim(idx, ifindex)
		}
	}()
	if err := o.Configs.Lookup(idx, &cfg); err != nil {
		return nil, cfg, nil, fmt.Errorf("read link config: %w", err)
	}
	if mac := cfg.ProbeMac; mac[0]&0x03 != 0x02 {
		return nil, cfg, nil, fmt.Errorf("link config holds no probe MAC of ours (%x)", mac)
	}
	if reloaded = o.adoptInstance(l); reloaded != nil {
		_ = l.closeFDs()
		l.instance = instance{}
		if err := o.loadInstance(l); err != nil {
			return nil, cfg, nil, err
		}
	}
	return l, cfg, reloaded, nil
}

// adoptInstance opens l's pinned programs and .bss into l and checks them
// (checkProgram).
func (o *objects) adoptInstance(l *linkObjects) (err error) {
	dir := o.pin.link(l.tap)
	if l.ProbeIngress, err = ebpf.LoadPinnedProgram(filepath.Join(dir, pinIngress), nil); err != nil {
		return fmt.Errorf("open pinned program: %w", err)
	}
	if l.ProbeEgress, err = ebpf.LoadPinnedProgram(filepath.Join(dir, pinEgress), nil); err != nil {
		return fmt.Errorf("open pinned program: %w", err)
	}
	if l.Bss, err = ebpf.LoadPinnedMap(filepath.Join(dir, pinBss), nil); err != nil {
		return fmt.Errorf("open pinned traffic counters: %w", err)
	}
	if err := sameLayout(o.spec.Maps[".bss"], l.Bss); err != nil {
		return fmt.Errorf("pinned traffic counters: %w", err)
	}
	bssID, err := mapID(l.Bss)
	if err != nil {
		return err
	}
	for name, p := range map[string]*ebpf.Program{bpf.ProbeProgProbeIngress: l.ProbeIngress, bpf.ProbeProgProbeEgress: l.ProbeEgress} {
		if err := o.checkProgram(name, p, l.idx, bssID); err != nil {
			return fmt.Errorf("pinned program %s: %w", name, err)
		}
	}
	return nil
}

// checkProgram says whether p is what loading spec program name for link
// index idx makes now: the same instructions (tag), and every map it uses
// one of the shared maps, its link's .bss (which it must use) or a
// .rodata whose link_idx is idx.
func (o *objects) checkProgram(name string, p *ebpf.Program, idx uint32, bssID ebpf.MapID) error {
	info, err := p.Info()
	if err != nil {
		return fmt.Errorf("program info: %w", err)
	}
	if err := o.spec.Programs[name].Compatible(info); err != nil {
		return err
	}
	ids, ok := info.MapIDs()
	if !ok {
		return errors.New("the kernel does not say which maps it uses")
	}
	bss, rodata := false, false
	for _, id := range ids {
		switch {
		case o.sharedIDs[id]:
		case id == bssID:
			bss = true
		default:
			if err := o.checkRodata(id, idx); err != nil {
				return err
			}
			rodata = true
		}
	}
	if !bss || !rodata {
		return fmt.Errorf("uses maps %v, not its link's .bss (%d) and .rodata", ids, bssID)
	}
	return nil
}

// checkRodata says whether map id is a .rodata of the probe whose
// link_idx is idx.
func (o *objects) checkRodata(id ebpf.MapID, idx uint32) error {
	m, err := ebpf.NewMapFromID(id)
	if err != nil {
		return fmt.Errorf("open map %d: %w", id, err)
	}
	defer m.Close()
	if err := sameLayout(o.spec.Maps[".rodata"], m); err != nil {
		return fmt.Errorf("map %d is not the probe's: %w", id, err)
	}
	buf := make([]byte, m.ValueSize())
	if err := m.Lookup(uint32(0), buf); err != nil {
		return fmt.Errorf("read map %d: %w", id, err)
	}
	v := o.spec.Variables[bpf.ProbeVarLinkIdx]
	if int(v.Offset)+4 > len(buf) {
		return fmt.Errorf("map %d is too small for link_idx", id)
	}
	if got := binary.NativeEndian.Uint32(buf[v.Offset:]); got != idx {
		return fmt.Errorf("bound to link index %d, the links map says %d", got, idx)
	}
	return nil
}

// sameLayout says whether m is laid out as spec says: type, key and value
// sizes, entries. (MapSpec.Compatible compares the flags too, and the
// loader adds BPF_F_MMAPABLE to data sections where the kernel has it.)
func sameLayout(spec *ebpf.MapSpec, m *ebpf.Map) error {
	if m.Type() != spec.Type || m.KeySize() != spec.KeySize || m.ValueSize() != spec.ValueSize || m.MaxEntries() != spec.MaxEntries {
		return fmt.Errorf("map %s is a %s of %d entries, %d-byte keys, %d-byte values; %s is a %s of %d, %d, %d",
			m, m.Type(), m.MaxEntries(), m.KeySize(), m.ValueSize(), spec.Name, spec.Type, spec.MaxEntries, spec.KeySize, spec.ValueSize)
	}
	return nil
}

// claim marks idx used by the link on ifindex, taken over from an earlier
// run.
func (o *objects) claim(idx, ifindex uint32) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if int(idx) >= len(o.used) {
		return fmt.Errorf("link index %d is out of range", idx)
	}
	if o.used[idx] {
		return fmt.Errorf("link index %d is another link's", idx)
	}
	o.used[idx] = true
	delete(o.reserved, idx)
	return nil
}

// unclaim undoes claim: the index stays the earlier run's link's.
func (o *objects) unclaim(idx, ifindex uint32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.used[idx] = false
	o.reserved[idx] = ifindex
}

// releaseLink closes the link's file descriptors and leaves it as it is
// in the kernel: attached, pinned, its index in the links map.
func (o *objects) releaseLink(l *linkObjects) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return l.closeFDs()
}

// closeFDs closes what of the link's programs and .bss is open.
func (l *linkObjects) closeFDs() error {
	var errs []error
	for _, p := range []*ebpf.Program{l.ProbeIngress, l.ProbeEgress} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	if l.Bss != nil {
		errs = append(errs, l.Bss.Close())
	}
	return errors.Join(errs...)
}
