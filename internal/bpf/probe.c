//go:build ignore

// multilink link probe: tc programs on ingress and egress of each TAP.
//
// Each link has its own instance of the programs. The hot path, which
// runs for every frame, touches one cache line of memory: the instance's
// own per-CPU slot in its .bss (cpu_traffic), found by address and CPU
// number, with no map lookup, no key and no load from .rodata. Only ARP
// frames, and a jiffy's first data frame sent, go further, to the per-link
// arrays at the instance's link_idx (the links map gives the index by
// ifindex). Per link they count frames and bytes in each direction, the
// ARP requests leaving for the probe target and the ARP replies arriving
// from it, note when the last frame and the last reply arrived and when
// the last data frame left (telling the daemon when data leaves an idle
// link again), and time the daemon's own ARP probes: a probe leaves with
// a source MAC whose low bits name one of PROBE_SLOTS
// slots, the reply comes back addressed to that MAC, and the slot's
// departure time gives the RTT, even when several probes are in flight.
// Every RTT goes into a log2 histogram and, on kernels with a ring buffer,
// out as an event.
//
// The programs never drop or hold what passes: they return TC_ACT_UNSPEC
// (TCX: next), so the frame continues, and later programs (the eBPF bond)
// run. One thing they change: a frame that reached a TAP addressed to
// another of the gateway's links (host_macs) is taken as addressed to
// this one (see host_macs).
// Only UAPI headers: no vmlinux.h, no CO-RE, so it loads on old kernels.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_LINKS 256
#define MAX_CPUS 1024   // the loader refuses a machine with more possible CPUs
#define PROBE_SLOTS 32 // a power of two: the slot is the MAC's low bits
#define RTT_BUCKETS 24 // bucket b > 0 holds [2^(b-1), 2^b) us; the last one everything above

#define ARPHRD_ETHER 1
#define ARPOP_REQUEST 1
#define ARPOP_REPLY 2
#define ETH_P_8021AD_ 0x88A8

// link_config is written by the daemon when it attaches to a TAP, and
// again when the link's probe interval changes (wake_gap_ns).
struct link_config {
	__be32 target;     // the probe target's IPv4 address (the hub bridge)
	__u8 probe_mac[6]; // our probes' source MAC; its low 5 bits are 0
	__u8 pad[2];
	// wake_gap_ns: 0, every reply event wakes the daemon's reader. Else
	// the daemon drains the ring itself at each of the link's probes and
	// only a reply more than wake_gap_ns after the link's previous one
	// (recovery, a sudden delay) wakes it: a wake-up is an interrupt
	// (irq_work) on the CPU that took the frame.
	__u64 wake_gap_ns;
	// idle_ns: 0, nothing. Else a data frame (unicast) sent more than
	// idle_ns after the link's previous one (the jiffy's first, as the coarse clock
	// tells) sends an EVENT_RESUMED event that wakes the reader: the
	// daemon probes an idle link slowly and needs to know at once when
	// traffic is back on it.
	__u64 idle_ns;
};

// link_traffic is one CPU's traffic on one link, a cache line of its own
// (no atomics, no line shared between CPUs): every frame touches only this.
struct link_traffic {
	__u64 rx_frames;
	__u64 rx_bytes;
	__u64 tx_frames;
	__u64 tx_bytes;
	__u64 malformed;  // runts, truncated ARP, ARP not Ethernet/IPv4
	__u64 vlan;       // VLAN-tagged frames, counted, not parsed
	__u64 last_rx_ns; // when the last frame arrived on this CPU (CLOCK_MONOTONIC, coarse)
	__u64 last_rx_jiffy; // the jiffy last_rx_ns was stamped in
};
_Static_assert(sizeof(struct link_traffic) == 64, "a CPU's slot is one cache line");

// link_stats is created zeroed by the daemon; the programs only update it,
// for ARP frames only (about 100 per second on an active link probed every
// 20 ms: ours, the bond's, and their replies).
struct link_stats {
	__u64 arp_requests;  // ARP requests for the target leaving (ours and the bond's)
	__u64 arp_replies;   // ARP replies from the target arriving (to anyone)
	__u64 probes_sent;   // our probes leaving
	__u64 probe_replies; // replies to our probes, each with an RTT
	__u64 last_reply_ns; // bpf_ktime_get_ns of the last ARP reply from the target (to anyone)
	__u64 rtt_last_ns;
	__u64 rtt_sum_ns;
	__u64 probe_reply_ns; // bpf_ktime_get_ns of the last reply to one of our probes
	__u8 peer_mac[6];    // the target's MAC, from its last reply
	__u8 pad[2];
	// data_tx_ns: the coarse CLOCK_MONOTONIC time of the last data frame
	// sent (a unicast frame but an ARP for the target), stamped at most
	// once a jiffy; 0: none yet.
	__u64 data_tx_ns;
	__u64 rtt_hist[RTT_BUCKETS];
	__u64 slot_sent_ns[PROBE_SLOTS]; // departure of the probe in flight per slot; 0: none
};

// EVENT_RESUMED in an event's slot: not a reply, data frames leave the
// link again after more than its idle_ns without any.
#define EVENT_RESUMED 0xffffffffu

// event is sent for every reply to one of our probes, and when data is
// sent again on an idle link (slot EVENT_RESUMED, rtt_ns 0).
struct event {
	__u32 ifindex;
	__u32 slot;
	__u64 at_ns;  // bpf_ktime_get_ns when the reply arrived
	__u64 rtt_ns;
};

// arp_eth is an ARP packet for Ethernet and IPv4, as it follows the
// Ethernet header. The addresses are not naturally aligned: bytes only.
struct arp_eth {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
	__u8 sha[6];
	__u8 spa[4];
	__u8 tha[6];
	__u8 tpa[4];
};

// links maps a probed TAP's ifindex to its index in the arrays below.
// Only the daemon writes it and the programs never read it (they carry
// their index): it is there for readers of the maps, bpftool included.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_LINKS);
	__type(key, __u32);   // ifindex
	__type(value, __u32); // link index
} links SEC(".maps");

// This instance's traffic, a slot per CPU. It lives in the instance's own
// .bss (each link's programs are loaded with a .bss of their own, created
// zeroed), which the program addresses directly: no lookup on the hot
// path. On 5.5+ the .bss is mmapable, so page-aligned, and a slot is a
// cache line; before, the kernel's map header puts the slots 8-aligned
// only, so a slot may straddle two lines (the counts stay exact).
struct link_traffic cpu_traffic[MAX_CPUS] __attribute__((aligned(64)));

// The jiffy in which this instance last stamped a data frame sent, shared
// by the CPUs: a data frame reads it, and the jiffy's first one writes it
// (so the line moves between CPUs at most once a jiffy). A line of its own.
__u64 data_tx_jiffy __attribute__((aligned(64)));

// The per-link maps are arrays indexed by link index. The daemon zeroes a
// link's entries before it loads the link's programs.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_LINKS);
	__type(key, __u32);
	__type(value, struct link_config);
} configs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_LINKS);
	__type(key, __u32);
	__type(value, struct link_stats);
} stats SEC(".maps");

// host_macs holds the MACs of the gateway's probed TAPs (key: the MAC in
// the low 6 bytes of a __u64, as loaded; value unused). The daemon adds a
// TAP's MAC when it attaches and removes it when it detaches. A frame that
// arrives on one TAP addressed to another's MAC is for this host all the
// same: with fail_over_mac 1 the kernel bond's MAC follows its active
// slave, and for the moment of a switch it sends on the new slave with the
// old MAC, so the hub's bridge learns the old MAC on the new link and
// sends there what the hub still addresses to it. The kernel marks such a
// frame PACKET_OTHERHOST (not the TAP's address) and IP drops it;
// probe_ingress marks it PACKET_HOST. Only frames already OTHERHOST are
// looked up: the hot path pays one load.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_LINKS);
	__type(key, __u64);
	__type(value, __u8);
} host_macs SEC(".maps");

// The loader turns this into a one-entry array on kernels without ring
// buffers (before 5.8) and sets use_ringbuf to 0, so the verifier never
// walks the ring buffer calls; the daemon then polls stats instead.
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");

volatile const __u32 use_ringbuf = 1;

// This instance's link: its index in configs and stats (ARP frames only).
volatile const __u32 link_idx = 0;

// Keeps struct event in BTF for bpf2go's -type (it costs a one-entry .bss).
const struct event *unused_event __attribute__((unused));

// traffic_slot is this CPU's slot of the instance's traffic.
static __always_inline struct link_traffic *traffic_slot(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	if (cpu >= MAX_CPUS) // the loader refuses such machines; for the verifier
		return 0;
	return &cpu_traffic[cpu];
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

// rtt_bucket is the histogram bucket of an RTT.
static __always_inline __u32 rtt_bucket(__u64 rtt_ns)
{
	__u64 us = rtt_ns / 1000;
	if (us == 0)
		return 0;
	__u32 b = log2_u64(us) + 1;
	return b < RTT_BUCKETS ? b : RTT_BUCKETS - 1;
}

static __always_inline int ip_eq(const __u8 a[4], __be32 b)
{
	__be32 v;
	__builtin_memcpy(&v, a, 4);
	return v == b;
}

// slot_of returns the probe slot mac names, or -1 if it is not one of ours.
static __always_inline int slot_of(const __u8 mac[6], const struct link_config *cfg)
{
	if (mac[0] != cfg->probe_mac[0] || mac[1] != cfg->probe_mac[1] || mac[2] != cfg->probe_mac[2] ||
	    mac[3] != cfg->probe_mac[3] || mac[4] != cfg->probe_mac[4] ||
	    (mac[5] & ~(PROBE_SLOTS - 1)) != cfg->probe_mac[5])
		return -1;
	return mac[5] & (PROBE_SLOTS - 1);
}

// arp_candidate is the cheap test that keeps the hot path short: only
// frames whose protocol says ARP (or a VLAN tag, to count it) are read.
// A tag the kernel took off before tc (vlan_present) is counted too: the
// frame must not pass for an untagged one.
static __always_inline int arp_candidate(struct __sk_buff *skb, struct link_traffic *tr)
{
	if (skb->vlan_present) {
		tr->vlan++;
		return 0;
	}
	if (skb->len < sizeof(struct ethhdr)) {
		tr->malformed++;
		return 0;
	}
	__be16 p = skb->protocol;
	return p == bpf_htons(ETH_P_ARP) || p == bpf_htons(ETH_P_8021Q) || p == bpf_htons(ETH_P_8021AD_);
}

// take_sibling marks a frame addressed to another of the gateway's links
// (host_macs) as addressed to this host.
static __always_inline void take_sibling(struct __sk_buff *skb)
{
	__u64 dst = 0;
	if (bpf_skb_load_bytes(skb, 0, &dst, 6) < 0)
		return;
	if (bpf_map_lookup_elem(&host_macs, &dst))
		bpf_skb_change_type(skb, PACKET_HOST);
}

// load_arp reads a candidate's Ethernet type and ARP body. It returns 1
// for a well-formed Ethernet/IPv4 ARP packet, 0 for anything else, counting
// truncated or foreign ARP and VLAN tags.
static __always_inline int load_arp(struct __sk_buff *skb, struct link_traffic *tr, struct arp_eth *arp)
{
	struct ethhdr eth;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0) {
		tr->malformed++;
		return 0;
	}
	if (eth.h_proto == bpf_htons(ETH_P_8021Q) || eth.h_proto == bpf_htons(ETH_P_8021AD_)) {
		tr->vlan++;
		return 0;
	}
	if (eth.h_proto != bpf_htons(ETH_P_ARP))
		return 0;
	if (bpf_skb_load_bytes(skb, sizeof(eth), arp, sizeof(*arp)) < 0 ||
	    arp->htype != bpf_htons(ARPHRD_ETHER) || arp->ptype != bpf_htons(ETH_P_IP) ||
	    arp->hlen != 6 || arp->plen != 4) {
		tr->malformed++;
		return 0;
	}
	return 1;
}

// note_data_tx stamps the link's last data frame sent, once a jiffy, and
// tells the daemon when it follows more than the link's idle_ns without
// any. Only unicast frames are data: multicast and broadcast (IPv6 router
// solicitations, MLD, neighbour discovery) are the hosts' own chatter,
// not traffic whose loss a user would see. The destination's group bit is
// one load from the frame's first byte, in cache; the jiffy test is one
// load of a line the CPUs share but rarely write; the map lookups and the
// coarse clock come once a jiffy.
static __always_inline void note_data_tx(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	if (data + 1 > data_end || (*(__u8 *)data & 1))
		return;
	__u64 j = bpf_jiffies64();
	if (j == data_tx_jiffy)
		return;
	data_tx_jiffy = j;
	__u32 key = link_idx;
	struct link_config *cfg = bpf_map_lookup_elem(&configs, &key);
	struct link_stats *st = bpf_map_lookup_elem(&stats, &key);
	if (!cfg || !st)
		return;
	__u64 now = bpf_ktime_get_coarse_ns();
	__u64 prev = st->data_tx_ns;
	st->data_tx_ns = now;
	if (!use_ringbuf || !cfg->idle_ns || (prev && now - prev <= cfg->idle_ns))
		return;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return;
	e->ifindex = skb->ifindex;
	e->slot = EVENT_RESUMED;
	e->at_ns = now;
	e->rtt_ns = 0;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

SEC("tc")
int probe_egress(struct __sk_buff *skb)
{
	struct link_traffic *tr = traffic_slot();
	if (!tr)
		return TC_ACT_UNSPEC;
	tr->tx_frames++;
	tr->tx_bytes += skb->len;
	if (!arp_candidate(skb, tr)) {
		note_data_tx(skb);
		return TC_ACT_UNSPEC;
	}

	__u32 key = link_idx;
	struct arp_eth arp;
	struct link_config *cfg = bpf_map_lookup_elem(&configs, &key);
	struct link_stats *st = bpf_map_lookup_elem(&stats, &key);
	if (!cfg || !st || !load_arp(skb, tr, &arp) || arp.op != bpf_htons(ARPOP_REQUEST) || !ip_eq(arp.tpa, cfg->target))
		return TC_ACT_UNSPEC;
	__sync_fetch_and_add(&st->arp_requests, 1);
	int slot = slot_of(arp.sha, cfg);
	if (slot < 0 || !ip_eq(arp.spa, 0))
		return TC_ACT_UNSPEC;
	__sync_fetch_and_add(&st->probes_sent, 1);
	st->slot_sent_ns[slot & (PROBE_SLOTS - 1)] = bpf_ktime_get_ns();
	return TC_ACT_UNSPEC;
}

SEC("tc")
int probe_ingress(struct __sk_buff *skb)
{
	struct link_traffic *tr = traffic_slot();
	if (!tr)
		return TC_ACT_UNSPEC;
	tr->rx_frames++;
	tr->rx_bytes += skb->len;
	// The last frame's time needs no precision (it feeds an age): the
	// coarse clock (5.11+), which moves once a tick, read once a tick.
	// jiffies is one load; the coarse clock's seqlock costs about 50 ns
	// a frame. The loader rewrites both calls to bpf_ktime_get_ns on
	// kernels without them (5.5, 5.11), so no flag is read here.
	__u64 j = bpf_jiffies64();
	if (j != tr->last_rx_jiffy) {
		tr->last_rx_jiffy = j;
		tr->last_rx_ns = bpf_ktime_get_coarse_ns();
	}
	if (skb->pkt_type == PACKET_OTHERHOST)
		take_sibling(skb);
	if (!arp_candidate(skb, tr))
		return TC_ACT_UNSPEC;
	__u64 now = bpf_ktime_get_ns(); // an RTT needs the precise clock

	__u32 key = link_idx;
	struct arp_eth arp;
	struct link_config *cfg = bpf_map_lookup_elem(&configs, &key);
	struct link_stats *st = bpf_map_lookup_elem(&stats, &key);
	if (!cfg || !st || !load_arp(skb, tr, &arp) || arp.op != bpf_htons(ARPOP_REPLY) || !ip_eq(arp.spa, cfg->target))
		return TC_ACT_UNSPEC;
	__sync_fetch_and_add(&st->arp_replies, 1);
	st->last_reply_ns = now;
	__builtin_memcpy(st->peer_mac, arp.sha, 6);

	int slot = slot_of(arp.tha, cfg);
	if (slot < 0)
		return TC_ACT_UNSPEC;
	__u32 s = slot & (PROBE_SLOTS - 1);
	__u64 sent = st->slot_sent_ns[s];
	if (sent == 0 || sent > now)
		return TC_ACT_UNSPEC; // a duplicate, or a reply to a probe we forgot
	st->slot_sent_ns[s] = 0;
	__u64 rtt = now - sent;
	__u64 prev = st->probe_reply_ns;
	st->probe_reply_ns = now;
	__sync_fetch_and_add(&st->probe_replies, 1);
	__sync_fetch_and_add(&st->rtt_sum_ns, rtt);
	__u32 b = rtt_bucket(rtt);
	if (b >= RTT_BUCKETS) // for the verifier: rtt_bucket keeps it in range
		b = RTT_BUCKETS - 1;
	__sync_fetch_and_add(&st->rtt_hist[b], 1);
	st->rtt_last_ns = rtt;

	if (use_ringbuf) {
		struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (e) {
			e->ifindex = skb->ifindex;
			e->slot = s;
			e->at_ns = now;
			e->rtt_ns = rtt;
			// Steady replies wait for the daemon's next drain; news
			// (the first reply, or one after a gap) wakes it now.
			__u64 gap = cfg->wake_gap_ns;
			bpf_ringbuf_submit(e, gap && prev && now - prev <= gap ? BPF_RB_NO_WAKEUP : BPF_RB_FORCE_WAKEUP);
		}
	}
	return TC_ACT_UNSPEC;
}

char __license[] SEC("license") = "Dual MIT/GPL";
