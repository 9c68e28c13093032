package probe

import (
	"errors"
	"fmt"
	"net"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/rlimit"

	"github.com/multilink/multilink/bpf"
)

// objects are the loaded programs and maps, one set per daemon.
type objects struct {
	bpf.ProbeObjects
	ringbuf bool // events come through the ring buffer; else poll stats
}

// loadObjects loads the probe programs. On a kernel without ring buffers
// (before 5.8) the events map becomes a one-entry array the programs never
// touch (use_ringbuf = 0 lets the verifier skip those calls), and the
// daemon polls the stats instead. noRingbuf forces that path (tests).
func loadObjects(noRingbuf bool) (*objects, error) {
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock limit: %w", err)
	}
	spec, err := bpf.LoadProbe()
	if err != nil {
		return nil, fmt.Errorf("load probe spec: %w", err)
	}
	o := &objects{ringbuf: !noRingbuf}
	if o.ringbuf {
		if err := features.HaveMapType(ebpf.RingBuf); err != nil {
			if !errors.Is(err, ebpf.ErrNotSupported) {
				return nil, fmt.Errorf("probe ring buffer support: %w", err)
			}
			o.ringbuf = false
		}
	}
	if err := features.HaveProgramHelper(ebpf.SchedCLS, asm.FnKtimeGetCoarseNs); err != nil {
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return nil, fmt.Errorf("probe coarse clock support: %w", err)
		}
		if err := spec.Variables[bpf.ProbeVarCoarseClock].Set(uint32(0)); err != nil {
			return nil, fmt.Errorf("set coarse_clock: %w", err)
		}
	}
	if !o.ringbuf {
		ev := spec.Maps[bpf.ProbeMapEvents]
		ev.Type, ev.KeySize, ev.ValueSize, ev.MaxEntries = ebpf.Array, 4, 4, 1
		if err := spec.Variables[bpf.ProbeVarUseRingbuf].Set(uint32(0)); err != nil {
			return nil, fmt.Errorf("set use_ringbuf: %w", err)
		}
	}
	if err := spec.LoadAndAssign(&o.ProbeObjects, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("load probe programs: %w (verifier log:\n%+v)", err, ve)
		}
		return nil, fmt.Errorf("load probe programs: %w", err)
	}
	return o, nil
}

// addLink creates a link's map entries: zeroed counters (one per CPU for
// the traffic) and its config. On error nothing is left.
func (o *objects) addLink(key uint32, cfg bpf.ProbeLinkConfig) error {
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return fmt.Errorf("count cpus: %w", err)
	}
	if err := o.Traffic.Put(key, make([]bpf.ProbeLinkTraffic, ncpu)); err != nil {
		return fmt.Errorf("create traffic counters: %w", err)
	}
	if err := o.Stats.Put(key, bpf.ProbeLinkStats{}); err != nil {
		_ = o.removeLink(key)
		return fmt.Errorf("create stats: %w", err)
	}
	if err := o.Configs.Put(key, cfg); err != nil {
		_ = o.removeLink(key)
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// removeLink deletes a link's entries; missing ones are fine.
func (o *objects) removeLink(key uint32) error {
	var errs []error
	for _, m := range []*ebpf.Map{o.Configs, o.Stats, o.Traffic} {
		if err := m.Delete(key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			errs = append(errs, fmt.Errorf("delete map entry: %w", err))
		}
	}
	return errors.Join(errs...)
}

// readLink reads a link's counters: the per-CPU traffic summed (the last
// frame time is the latest of the CPUs') and the ARP statistics.
func (o *objects) readLink(key uint32) (kernelView, error) {
	kv, err := o.readStats(key)
	if err != nil {
		return kv, err
	}
	var per []bpf.ProbeLinkTraffic
	if err := o.Traffic.Lookup(key, &per); err != nil {
		return kernelView{}, fmt.Errorf("read link traffic: %w", err)
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

// readStats reads the link's probe state only (one map, not per-CPU):
// what a tick and LastReply need. Traffic counters stay zero.
func (o *objects) readStats(key uint32) (kernelView, error) {
	var st bpf.ProbeLinkStats
	if err := o.Stats.Lookup(key, &st); err != nil {
		return kernelView{}, fmt.Errorf("read link stats: %w", err)
	}
	kv := kernelView{
		Counters:    Counters{ArpRequests: st.ArpRequests, ArpReplies: st.ArpReplies, ProbesSent: st.ProbesSent, ProbeReplies: st.ProbeReplies},
		lastReplyNs: st.LastReplyNs, rttLastNs: st.RttLastNs, rttSumNs: st.RttSumNs,
		slotSent: st.SlotSentNs, hist: st.RttHist[:],
	}
	if st.LastReplyNs != 0 {
		kv.peer = append(net.HardwareAddr(nil), st.PeerMac[:]...)
	}
	return kv, nil
}
