package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"github.com/cilium/ebpf"
)

// macKey is mac as the host_macs map's key: its 6 bytes in the low bytes
// of a __u64 as the program loads them (memory order, the rest zero).
func macKey(mac net.HardwareAddr) (uint64, bool) {
	if len(mac) != 6 {
		return 0, false
	}
	var b [8]byte
	copy(b[:], mac)
	return binary.NativeEndian.Uint64(b[:]), true
}

// hostMACs counts the probed TAPs by MAC (links may share one: a kernel
// bond with fail_over_mac none gives its slaves its own), so that a MAC
// leaves host_macs with the last of them. o.mu guards it.
type hostMACs map[uint64]int

// addHostMAC adds a probed TAP's MAC to host_macs (see bpf/probe.c):
// frames addressed to it are taken on any of the gateway's TAPs.
func (o *objects) addHostMAC(mac net.HardwareAddr) error {
	k, ok := macKey(mac)
	if !ok {
		return nil // not Ethernet: nothing to match
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.macs == nil {
		o.macs = hostMACs{}
	}
	if err := o.HostMacs.Update(k, uint8(1), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("add %s to the host's MACs: %w", mac, err)
	}
	o.macs[k]++
	return nil
}

// removeHostMAC takes back an addHostMAC: the MAC leaves host_macs when
// no probed TAP has it any more.
func (o *objects) removeHostMAC(mac net.HardwareAddr) error {
	k, ok := macKey(mac)
	if !ok {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.macs[k] == 0 {
		return nil
	}
	if o.macs[k]--; o.macs[k] > 0 {
		return nil
	}
	delete(o.macs, k)
	if err := o.HostMacs.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("remove %s from the host's MACs: %w", mac, err)
	}
	return nil
}
