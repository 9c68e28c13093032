// Package impairment emulates an impaired link (delay, jitter, loss, a cut
// cable, a rate limit) in user space, for kernels without netem.
//
// A Relay forwards Ethernet frames between two interfaces A and B that live
// in one network namespace, usually the inner ends of two veth pairs in a
// dedicated middle namespace that the kernel's IP stack leaves alone (no
// addresses, IPv6 off):
//
//	left ns          middle ns                   right ns
//	  u1 <--veth--> g1 [relay A]  [relay B] h1 <--veth--> u1
//
// Each interface has one AF_PACKET socket (SOCK_RAW, ETH_P_ALL, bound to its
// ifindex, promiscuous), created on a locked thread inside the namespace.
// Each direction (AtoB, BtoA) has a reader goroutine and a scheduler
// goroutine joined by a bounded FIFO. The reader decides a frame's fate
// when it arrives, with the Impairment in force at that moment: cut, lost
// (independently with probability Loss, from a seeded math/rand/v2 PCG), or
// queued with a due time of now + Delay ± Jitter (uniform), after the
// serialisation time of the frames ahead of it when Rate is set. Due times
// never go backwards, so frames keep their order within a direction (jitter
// bunches frames, it never reorders them). The scheduler sleeps on a timer
// until the head of the FIFO is due and writes it out; a cut also drops
// frames already in flight when they come due, like a pulled cable. A full
// FIFO (Options.QueueLen, 4096 frames by default) drops the newcomer.
//
// Loops: the sockets set PACKET_IGNORE_OUTGOING (Linux 4.20+) and the
// reader also skips frames whose sll_pkttype is PACKET_OUTGOING, so neither
// the relay's own writes nor the middle namespace's own traffic is ever
// forwarded.
//
// Big frames and offloads: veth ends offload checksums and TCP
// segmentation, so a packet socket in the middle receives frames with a
// partial checksum (only the pseudo-header sum is filled in) and, unless
// GSO is limited, 64 KiB TSO super-frames. Written back as they are, the
// far end drops them for their bad checksum (checked: without a vnet
// header not even a TCP SYN gets through, while ping does) and the kernel
// refuses a super-frame longer than the MTU. The sockets therefore use
// PACKET_VNET_HDR: every frame is read and written with its
// virtio_net_hdr, which carries the checksum offsets and the GSO type and
// size, so the kernel on the way out rebuilds the same offloaded packet
// (DATA_VALID, a receive-only flag, is cleared). The receive buffer is
// 256 KiB; a longer frame is counted as Oversize and dropped. An emulated
// loss or cut of a super-frame hits dozens of segments at once, which is
// coarser than a real link, so NewLink creates the outer veth ends with
// gso_max_segs 1 (IFLA_GSO_MAX_SEGS, set by netlink: no ethtool needed, and
// unlike `ethtool -K tso off` it also covers UDP GSO): the stack then
// hands the veth wire-sized frames only. Counters.GSO counts the
// super-frames that still arrive (LinkOptions.KeepOffloads, or a relay
// on interfaces the caller made).
//
// NewLink builds the whole emulated link: the two veth pairs, IPv6 off on
// the middle ends (by writing /proc/sys/net/ipv6/conf/<if>/disable_ipv6 on
// a thread inside the middle namespace: /proc/sys/net shows the namespace
// of the thread that opens it), and the Relay; its Close removes the veths.
//
// Limits: timing rests on Go timers (about 1 ms accuracy, more under load);
// the relay copies each frame once and costs a few microseconds per frame,
// so it suits demos, tests and benchmarks of failover, not line-rate
// throughput measurements. There is no reordering, duplication or
// corruption model, and loss is independent per frame (no bursts).
package impairment
