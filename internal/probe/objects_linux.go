package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/rlimit"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/bpf"
	"github.com/multilink/multilink/internal/errkind"
)

// objects are the maps every link shares, loaded once per daemon, and the
// spec each link's programs are loaded from.
type objects struct {
	bpf.ProbeMaps
	spec    *ebpf.CollectionSpec
	ringbuf bool // events come through the ring buffer; else poll stats
	ncpu    int  // possible CPUs: the traffic slots in use
	pin     pins // where the maps and each link's objects are pinned (none: pin.dir "")
	// reset says why the pinned maps of an earlier run were not taken
	// over ("": they were, or there were none).
	reset     string
	sharedIDs map[ebpf.MapID]bool // the shared maps' IDs (pinning only)

	mu   sync.Mutex
	used []bool // link indexes in use, one per entry of the per-link arrays
	// reserved are the indexes an earlier run's links hold in the pinned
	// links map (index -> ifindex) that no link of this run has claimed.
	reserved map[uint32]uint32
	macs     hostMACs // the probed TAPs' MACs in host_macs, with how many have each
}

// linkObjects are one link's programs, bound at load time to its index in
// the per-link arrays (link_idx), and their own .bss: the traffic counters,
// a slot per CPU, which the hot path addresses without a map lookup.
type linkObjects struct {
	instance
	tap     string
	idx     uint32
	ifindex uint32

	mu     sync.RWMutex // read-held by readers, held by removeLink
	closed bool         // removed: its .bss is closed, its index may be another link's
}

// instance is what loading one link's programs makes.
type instance struct {
	bpf.ProbePrograms
	Bss *ebpf.Map `ebpf:".bss"` // cpu_traffic
}

// trafficSlot is the size of one CPU's slot of cpu_traffic.
const trafficSlot = int(unsafe.Sizeof(bpf.ProbeLinkTraffic{}))

// loadOptions force the paths of older kernels (tests).
type loadOptions struct {
	noRingbuf    bool // poll the stats, as on kernels before 5.8
	preciseClock bool // stamp frames with bpf_ktime_get_ns, as on kernels before 5.11
	noJiffies    bool // stamp every frame, as on kernels before 5.5
	pinDir       string
}

// loadObjects loads the shared maps and prepares the programs' spec. On a
// kernel without ring buffers (before 5.8) the events map becomes a
// one-entry array the programs never touch (use_ringbuf = 0 lets the
// verifier skip those calls), and the daemon polls the stats instead.
func loadObjects(opts loadOptions) (*objects, error) {
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock limit: %w", err)
	}
	spec, err := bpf.LoadProbe()
	if err != nil {
		return nil, fmt.Errorf("load probe spec: %w", err)
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("count cpus: %w", err)
	}
	if slots := int(spec.Variables[bpf.ProbeVarCpuTraffic].Size()) / trafficSlot; ncpu > slots {
		return nil, errkind.Unsupported(fmt.Errorf("%d possible CPUs, the probe counts traffic for at most %d", ncpu, slots),
			"the eBPF link probe supports machines of up to %d CPUs", slots)
	}
	o := &objects{spec: spec, ringbuf: !opts.noRingbuf, ncpu: ncpu, pin: pins{dir: opts.pinDir},
		used: make([]bool, spec.Maps[bpf.ProbeMapStats].MaxEntries), reserved: map[uint32]uint32{}}
	if o.ringbuf {
		if err := features.HaveMapType(ebpf.RingBuf); err != nil {
			if !errors.Is(err, ebpf.ErrNotSupported) {
				return nil, fmt.Errorf("probe ring buffer support: %w", err)
			}
			o.ringbuf = false
		}
	}
	precise := opts.preciseClock
	if err := features.HaveProgramHelper(ebpf.SchedCLS, asm.FnKtimeGetCoarseNs); err != nil {
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return nil, fmt.Errorf("probe coarse clock support: %w", err)
		}
		precise = true
	}
	if precise {
		// The frame clock falls back to the precise one: the same call
		// with another helper, so the hot path reads no flag.
		replaceCall(spec, asm.FnKtimeGetCoarseNs, asm.FnKtimeGetNs)
	}
	noJiffies := opts.noJiffies
	if err := features.HaveProgramHelper(ebpf.SchedCLS, asm.FnJiffies64); err != nil {
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return nil, fmt.Errorf("probe jiffies support: %w", err)
		}
		noJiffies = true
	}
	if noJiffies {
		// The once-a-tick gate falls back to a clock that moves every
		// frame: each frame is stamped.
		replaceCall(spec, asm.FnJiffies64, asm.FnKtimeGetNs)
	}
	if !o.ringbuf {
		ev := spec.Maps[bpf.ProbeMapEvents]
		ev.Type, ev.KeySize, ev.ValueSize, ev.MaxEntries = ebpf.Array, 4, 4, 1
		if err := spec.Variables[bpf.ProbeVarUseRingbuf].Set(uint32(0)); err != nil {
			return nil, fmt.Errorf("set use_ringbuf: %w", err)
		}
	}
	if err := o.loadMaps(); err != nil {
		return nil, err
	}
	if got, want := o.Stats.ValueSize(), uint32(unsafe.Sizeof(bpf.ProbeLinkStats{})); got != want {
		o.Close()
		return nil, fmt.Errorf("probe stats map: values of %d bytes, the daemon reads %d", got, want)
	}
	return o, nil
}

// addLink takes a free link index, zeroes its stats, writes its config and
// loads the link's programs bound to it, with a zeroed .bss of their own
// (the traffic counters), and pins them for tap (when pinning). On error
// nothing is left.
func (o *objects) addLink(tap string, ifindex uint32, cfg bpf.ProbeLinkConfig) (_ *linkObjects, err error) {
	idx, err := o.take(ifindex)
	if err != nil {
		return nil, err
	}
	l := &linkObjects{tap: tap, idx: idx, ifindex: ifindex}
	defer func() {
		if err != nil {
			_ = o.removeLink(l) // what it can; the error is addLink's
		}
	}()
	if err := o.Stats.Put(l.idx, bpf.ProbeLinkStats{}); err != nil {
		return nil, fmt.Errorf("zero stats: %w", err)
	}
	if err := o.Configs.Put(l.idx, cfg); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	if err := o.Links.Put(ifindex, l.idx); err != nil {
		return nil, fmt.Errorf("write link index: %w", err)
	}
	if err := o.loadInstance(l); err != nil {
		return nil, err
	}
	return l, nil
}

// loadInstance loads l's programs bound to its index, with a zeroed .bss
// of their own (the traffic counters), and pins them (when pinning).
func (o *objects) loadInstance(l *linkObjects) error {
	spec := o.spec.Copy()
	if err := spec.Variables[bpf.ProbeVarLinkIdx].Set(l.idx); err != nil {
		return fmt.Errorf("set link_idx: %w", err)
	}
	shared := map[string]*ebpf.Map{
		bpf.ProbeMapConfigs: o.Configs, bpf.ProbeMapStats: o.Stats,
		bpf.ProbeMapEvents: o.Events, bpf.ProbeMapLinks: o.Links, bpf.ProbeMapHostMacs: o.HostMacs,
	}
	// The .bss is not shared: each instance gets its own, created zeroed.
	if err := spec.LoadAndAssign(&l.instance, &ebpf.CollectionOptions{MapReplacements: shared}); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			err = fmt.Errorf("%w (verifier log:\n%+v)", err, ve)
		}
		return errkind.Unsupported(fmt.Errorf("load probe programs: %w", err),
			"the eBPF link probe cannot load (needs CAP_BPF and CAP_NET_ADMIN, Linux 5.4+)")
	}
	return o.pin.pinLink(l.tap, &l.instance)
}

// removeLink unloads a link's programs (detach them first) and their
// traffic counters, unpins them, and frees its index; a missing entry is
// fine. Its ARP statistics stay until the index is taken again (addLink
// zeroes them).
func (o *objects) removeLink(l *linkObjects) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	var errs []error
	if err := l.ProbePrograms.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close probe programs: %w", err))
	}
	if err := l.Bss.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close probe traffic counters: %w", err))
	}
	if err := o.pin.removeLink(l.tap); err != nil {
		errs = append(errs, err)
	}
	if err := o.Links.Delete(l.ifindex); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		errs = append(errs, fmt.Errorf("delete link index: %w", err))
	}
	o.mu.Lock()
	o.used[l.idx] = false
	o.mu.Unlock()
	return errors.Join(errs...)
}

// replaceCall makes the programs call helper to where they call from, for
// kernels that lack from: bpf_ktime_get_coarse_ns (before 5.11) and
// bpf_jiffies64 (before 5.5) become bpf_ktime_get_ns. All three take
// nothing and return a u64 clock.
func replaceCall(spec *ebpf.CollectionSpec, from, to asm.BuiltinFunc) {
	for _, p := range spec.Programs {
		for i := range p.Instructions {
			if ins := &p.Instructions[i]; ins.IsBuiltinCall() && ins.Constant == int64(from) {
				ins.Constant = int64(to)
			}
		}
	}
}

// take marks a link index used and returns it: the one an earlier run's
// link on ifindex held, else the lowest free one that no earlier run's
// link holds, else the lowest one an earlier run's link holds (that link
// was not added again; its entry in the links map goes).
func (o *objects) take(ifindex uint32) (uint32, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for idx, ifx := range o.reserved {
		if ifx == ifindex && !o.used[idx] {
			delete(o.reserved, idx)
			o.used[idx] = true
			return idx, nil
		}
	}
	for i, u := range o.used {
		if _, held := o.reserved[uint32(i)]; !u && !held {
			o.used[i] = true
			return uint32(i), nil
		}
	}
	for i, u := range o.used {
		if ifx, held := o.reserved[uint32(i)]; !u && held {
			if err := o.Links.Delete(ifx); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				return 0, fmt.Errorf("free link index %d of ifindex %d: %w", i, ifx, err)
			}
			delete(o.reserved, uint32(i))
			o.used[i] = true
			return uint32(i), nil
		}
	}
	return 0, errkind.Conflict("all %d probe link entries are in use", len(o.used))
}

// Close unloads the shared maps.
func (o *objects) Close() error {
	return o.ProbeMaps.Close()
}

// readLink reads a link's counters: the per-CPU traffic summed (the last
// frame time is the latest of the CPUs') and the ARP statistics.
func (o *objects) readLink(l *linkObjects) (kernelView, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return kernelView{}, errRemoved
	}
	kv, err := o.stats(l.idx)
	if err != nil {
		return kv, err
	}
	per, err := o.readTraffic(l)
	if err != nil {
		return kernelView{}, err
	}
	for _, t := range per {
		kv.RxFrames += t.RxFrames
		kv.RxBytes += t.RxBytes
		kv.TxFrames += t.TxFrames
		kv.TxBytes += t.TxBytes
		kv.Malformed += t.Malformed
		kv.VLAN += t.Vlan
		kv.lastRxNs = max(kv.lastRxNs, t.LastRxNs)
	}
	return kv, nil
}

// configure rewrites the link's config entry (its wake gap changed).
func (o *objects) configure(l *linkObjects, cfg bpf.ProbeLinkConfig) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return errRemoved
	}
	if err := o.Configs.Update(l.idx, cfg, ebpf.UpdateExist); err != nil {
		return fmt.Errorf("write link config: %w", err)
	}
	return nil
}

// errRemoved: the link was removed while it was being read.
var errRemoved = errors.New("probe link removed")

// readTraffic reads the instance's cpu_traffic slots of the possible CPUs
// (a lookup of the .bss, which works before 5.5 too, where it cannot be
// mapped into memory).
func (o *objects) readTraffic(l *linkObjects) ([]bpf.ProbeLinkTraffic, error) {
	buf := make([]byte, l.Bss.ValueSize())
	if err := l.Bss.Lookup(uint32(0), buf); err != nil {
		return nil, fmt.Errorf("read link traffic: %w", err)
	}
	off := int(o.spec.Variables[bpf.ProbeVarCpuTraffic].Offset)
	per := make([]bpf.ProbeLinkTraffic, o.ncpu)
	if _, err := binary.Decode(buf[off:], binary.NativeEndian, per); err != nil {
		return nil, fmt.Errorf("decode link traffic: %w", err)
	}
	return per, nil
}

// readStats reads the link's probe state only (one map, not per-CPU):
// what a tick and LastReply need. Traffic counters stay zero.
func (o *objects) readStats(l *linkObjects) (kernelView, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return kernelView{}, errRemoved
	}
	return o.stats(l.idx)
}

// stats reads entry idx of the stats map.
func (o *objects) stats(idx uint32) (kernelView, error) {
	var st bpf.ProbeLinkStats
	if err := lookupRaw(o.Stats.FD(), idx, unsafe.Pointer(&st)); err != nil {
		return kernelView{}, fmt.Errorf("read link stats: %w", err)
	}
	kv := kernelView{
		LinkCounters: api.LinkCounters{ArpRequests: st.ArpRequests, ArpReplies: st.ArpReplies, ProbesSent: st.ProbesSent, ProbeReplies: st.ProbeReplies},
		lastReplyNs:  st.LastReplyNs, rttLastNs: st.RttLastNs, rttSumNs: st.RttSumNs, dataTxNs: st.DataTxNs,
		slotSent: st.SlotSentNs, hist: st.RttHist[:],
	}
	if st.LastReplyNs != 0 {
		kv.peer = append(net.HardwareAddr(nil), st.PeerMac[:]...)
	}
	return kv, nil
}
