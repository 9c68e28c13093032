// Package bpf holds multilink's eBPF programs (C sources) and the Go
// bindings bpf2go generates from them. The generated probe_bpfel.go and
// probe_bpfel.o are committed, so building needs no clang; `make generate`
// recompiles them (clang-14 from Debian bookworm, pinned by name) and CI
// fails when the committed ones are stale.
//
// probe.c: tc programs for ingress and egress of each TAP, measuring a
// link in the kernel (frame and ARP counters, ARP probe RTTs into a log2
// histogram, a ring buffer event per reply). Package probe loads and
// attaches them. They only observe: every frame continues as before.
//
// bond.c: an active-backup bond out of tc programs (a veth pair whose
// peer's ingress redirects to the active TAP, each TAP's ingress
// redirecting back or dropping), for kernels without the bonding driver.
// Package bond's EBPF driver loads them. While a duplicate member is set,
// bond_out sends every frame on it as well as on the active one.
//
// dedup.c: a tc program for the ingress of TAPs that receive such copies,
// dropping the second copy of a frame within a window (a hash of its
// network-layer start in a direct-mapped table). Package dedup loads it.
package bpf
