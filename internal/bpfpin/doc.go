// Package bpfpin holds the places where eBPF objects are pinned so that
// they outlive the daemon: it checks that a directory is a bpf filesystem
// (bpffs), mounts one where allowed, names the per-instance directory
// (<root>/multilink/<instance>) and removes a tree of pins.
//
// A pin is a file in a bpffs; the kernel keeps a pinned map, program or
// link alive until the file is removed, whatever the processes do. Pins
// under a directory that is not a bpffs are refused (EPERM) by the kernel,
// so the daemon checks first and says so once.
package bpfpin
