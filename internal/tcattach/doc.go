// Package tcattach attaches eBPF programs to a device's ingress and egress: with
// TCX (bpf links, Linux 6.6+) where the kernel has it, else with a clsact
// qdisc and cls_bpf filters in direct-action mode (down to Linux 5.4),
// chosen at run time. Several users share a device in a fixed order: with
// TCX by anchoring at the head or the tail of the chain, or before a
// program named in Options.Before, with legacy filters by priority.
//
// What outlives the process: legacy filters always (they hold their
// program; they are named, so ours are found again); TCX links only when
// pinned in a bpffs (Options.PinDir). Attach takes over what an earlier
// process left without a moment with no program on the device: a pinned
// link gets its new program with one link update, a filter of ours is
// replaced in place. Release forgets an attachment and leaves it running;
// Detach removes it and its pins.
package tcattach
