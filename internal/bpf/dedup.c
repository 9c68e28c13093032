//go:build ignore

// multilink duplicate filter: drops the second copy of a frame that
// arrives twice, over two links, within a short window (selective
// redundancy: the eBPF bond sends every frame over two links while the
// failover engine suspects its active one, see bond.c).
//
// It runs on the ingress of the TAPs that receive such copies, before
// whatever takes the frame further (the hub's bridge; on a gateway TAP,
// bond_in), and after the probe. The sender gives no sign of copying, so
// every IPv4 and IPv6 frame is hashed and remembered; other frames (ARP,
// the probe's) pass untouched.
//
// A frame's identity: a 64-bit hash of its source MAC (the sending
// bond's: two gateways never collide), its length and its first
// HASH_BYTES bytes from the network header on (IPv4 or IPv6 header, then
// the transport header and the start of the payload: ICMP echo id and
// sequence, TCP sequence, acknowledgement and timestamps, the start of a
// UDP payload). The hash starts from a seed the loader draws, so nobody
// can aim a frame at another's identity.
//
// The table is direct-mapped: an array of slots, a frame's slot chosen
// by its hash, holding the last frame's full hash, arrival and the device
// it came in on. A frame finding its own hash there within the window,
// from another device, is a copy (a copy always crosses the other link);
// the same frame again on the same device is a repeat the sender made
// (an unconnected UDP socket's datagrams carry IP id 0, and a sensor may
// send the same reading twice), passed and remembered; any other frame
// takes the slot. A copy is never taken for a new frame (that needs the
// same 64-bit hash), but a copy whose slot another frame took meanwhile
// passes: the table must be large against the frames of one window
// (overwritten counts those taken early). No locks, no allocation: a new
// frame costs what a copy costs.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// HASH_BYTES of the network header and beyond are hashed: 96 covers an
// IPv6 header (40) with a TCP header and its timestamps (32) and 24 bytes
// of payload, or an IPv4 header (20) with 76 bytes more.
#define HASH_BYTES 96
// The load starts at the source MAC: 6 bytes of it, 2 of ethertype, then
// the network header, so every word hashed is 8-byte aligned on the stack.
#define LOAD_OFF 6
#define LOAD_BYTES (8 + HASH_BYTES)

// dedup_slot is one frame seen (24 bytes).
struct dedup_slot {
	__u64 hash;    // 0: empty
	__u64 at_ns;   // its last arrival (bpf_ktime_get_ns)
	__u32 ifindex; // the device it arrived on
	__u32 pad;
};

// dedup_counters are per CPU.
struct dedup_counters {
	__u64 seen;        // IP frames hashed
	__u64 dropped;     // of them, a copy of one seen within the window: dropped
	__u64 stale;       // of them, one seen before the window, or on the same device: passed (a copy that came late, or a repeat)
	__u64 overwritten; // of them, new ones that took the slot of another seen within the window
};

// The loader sets max_entries (a power of two) and slot_mask to match.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct dedup_slot);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dedup_counters);
} dedup_stats SEC(".maps");

// Set by the loader.
volatile const __u64 window_ns = 100000000; // a copy within it is dropped
volatile const __u64 hash_seed = 0;
volatile const __u32 slot_mask = 65535;

static __always_inline __u64 mix(__u64 h, __u64 w)
{
	h ^= w * 0x9e3779b97f4a7c15ULL;
	h = (h << 31) | (h >> 33);
	return h * 0xc2b2ae3d27d4eb4fULL;
}

SEC("tc")
int dedup(struct __sk_buff *skb)
{
	__u16 proto = skb->protocol;
	if (proto != bpf_htons(ETH_P_IP) && proto != bpf_htons(ETH_P_IPV6))
		return TC_ACT_UNSPEC;
	__u32 len = skb->len;
	if (len <= ETH_HLEN)
		return TC_ACT_UNSPEC;
	__u64 n = len - LOAD_OFF;
	if (n > LOAD_BYTES)
		n = LOAD_BYTES;
	// Keep the compiler from bounding a copy of n instead of n itself:
	// the verifier must see both bounds on the register passed, each
	// from its own jump (6.1's verifier learns no lower bound from
	// "n == 0", nor any bound from a fused range check). n >= 9 here.
	asm volatile("" : "+r"(n));
	if (n < 8)
		return TC_ACT_UNSPEC;
	asm volatile("" : "+r"(n));
	if (n > LOAD_BYTES)
		return TC_ACT_UNSPEC;
	__u64 buf[LOAD_BYTES / 8] = {};
	if (bpf_skb_load_bytes(skb, LOAD_OFF, buf, n) < 0)
		return TC_ACT_UNSPEC;

	__u64 h = hash_seed ^ len;
#pragma unroll
	for (int i = 0; i < LOAD_BYTES / 8; i++) // word 0: source MAC and ethertype
		h = mix(h, buf[i]);
	h ^= h >> 29;
	if (h == 0)
		h = 1; // 0 marks an empty slot

	__u32 zero = 0;
	struct dedup_counters *c = bpf_map_lookup_elem(&dedup_stats, &zero);
	__u32 idx = (__u32)(h >> 32) & slot_mask;
	struct dedup_slot *s = bpf_map_lookup_elem(&slots, &idx);
	if (!c || !s)
		return TC_ACT_UNSPEC;
	c->seen++;
	__u64 now = bpf_ktime_get_ns();
	__u64 had = s->hash;
	if (had == h) {
		if (now - s->at_ns < window_ns && s->ifindex != skb->ifindex) {
			c->dropped++;
			return TC_ACT_SHOT;
		}
		c->stale++;
	} else if (had != 0 && now - s->at_ns < window_ns) {
		c->overwritten++;
	}
	// Two CPUs may race for a slot: at worst a copy passes.
	s->at_ns = now;
	s->hash = h;
	s->ifindex = skb->ifindex;
	return TC_ACT_UNSPEC;
}

char __license[] SEC("license") = "Dual MIT/GPL";
