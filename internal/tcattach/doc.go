// Package tcattach attaches eBPF programs to a device's ingress and egress: with
// TCX (bpf links, Linux 6.6+) where the kernel has it, else with a clsact
// qdisc and cls_bpf filters in direct-action mode (down to Linux 5.4),
// chosen at run time. Several users share a device in a fixed order: with
// TCX by anchoring at the head or the tail of the chain, with legacy
// filters by priority. TCX links end with the process; legacy filters are
// named, so those a crashed daemon left are found and replaced.
package tcattach
