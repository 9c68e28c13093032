package bpf

// The compiler is pinned by name (Debian bookworm's clang-14, llvm-14) so
// that `make generate` reproduces the committed objects byte for byte.
// BPF2GO_CFLAGS carries the multiarch include dir (Makefile).
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -target bpfel -type link_config -type link_stats -type event Probe probe.c
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -target bpfel -type bond_state -type bond_counters -type member Bond bond.c
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -target bpfel -type dedup_slot -type dedup_counters Dedup dedup.c
