//go:build ignore

// multilink eBPF bond: an active-backup bond out of tc programs, for
// kernels without the bonding driver.
//
// The bond device is one end of a veth pair and holds the address; its
// peer is hidden. Whatever the host sends out of the bond arrives on the
// peer's ingress, where bond_out redirects it to the active TAP's egress.
// A frame arriving on a member TAP goes, if that TAP is active, to the
// peer's egress and so into the bond device (bond_in); on any other member
// it is dropped, as active-backup does, after the probe (which runs before
// this program) has counted it, except on the member that was active until
// the last switch, for a short grace (replies in flight on the old path
// when the bond switched). Switching is one write of the bond's state.
//
// Selective redundancy: while the bond's dup member is set (the failover
// engine suspects the active link), bond_out sends every frame on both the
// active member and dup, the active's copy first, and bond_in takes frames
// arriving on dup as well (the far end may answer over it). The receiving
// end drops the second copy (dedup.c).

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define MAX_BONDS 64
#define MAX_MEMBERS 256

// bond_state is one bond, keyed by its peer's ifindex. Only the daemon
// writes it (a switch is one update of the whole value).
struct bond_state {
	__u32 active;        // ifindex of the active TAP; 0: none (frames are dropped)
	__u32 prev;          // the TAP active before the last switch
	__u64 prev_until_ns; // until then (bpf_ktime_get_ns) frames arriving on prev are still taken:
	                     // replies in flight when the bond switched, before the hub followed
	__u32 dup;           // ifindex of a member that gets a copy of every frame out, and whose
	                     // frames in are taken; 0: none. Ignored while it is the active one.
	__u32 pad;
};

// bond_counters are per CPU, keyed like bond_state.
struct bond_counters {
	__u64 out_frames;     // redirected to the active TAP
	__u64 in_frames;      // from the active TAP into the bond
	__u64 in_grace;       // from the previous TAP, within its grace
	__u64 dropped_backup; // arrived on an inactive member
	__u64 dropped_none;   // no active member
	__u64 dup_frames;     // copies sent to the dup member
	__u64 in_dup;         // from the dup member into the bond
};

// member is a TAP of a bond, keyed by the TAP's ifindex.
struct member {
	__u32 peer; // the bond's peer ifindex
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_BONDS);
	__type(key, __u32);
	__type(value, struct bond_state);
} bonds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MAX_BONDS);
	__type(key, __u32);
	__type(value, struct bond_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_MEMBERS);
	__type(key, __u32);
	__type(value, struct member);
} members SEC(".maps");

// bond_out runs on the peer's ingress: the host's frames out of the bond.
SEC("tc")
int bond_out(struct __sk_buff *skb)
{
	__u32 key = skb->ifindex;
	struct bond_state *b = bpf_map_lookup_elem(&bonds, &key);
	struct bond_counters *c = bpf_map_lookup_elem(&counters, &key);
	if (!b || !c)
		return TC_ACT_SHOT; // not a bond of ours: never leak frames
	__u32 active = b->active;
	if (active == 0) {
		c->dropped_none++;
		return TC_ACT_SHOT;
	}
	c->out_frames++;
	__u32 dup = b->dup;
	if (dup == 0 || dup == active)
		return bpf_redirect(active, 0);
	// The active's copy leaves first, so that where both arrive the far
	// end keeps the active's (its bridge keeps learning us there); the
	// original goes to dup.
	if (bpf_clone_redirect(skb, active, 0) != 0)
		return bpf_redirect(active, 0);
	c->dup_frames++;
	return bpf_redirect(dup, 0);
}

// bond_in runs on each member TAP's ingress, after the probe.
SEC("tc")
int bond_in(struct __sk_buff *skb)
{
	__u32 key = skb->ifindex;
	struct member *m = bpf_map_lookup_elem(&members, &key);
	if (!m)
		return TC_ACT_UNSPEC; // not a member (any more): leave it alone
	__u32 peer = m->peer;
	struct bond_state *b = bpf_map_lookup_elem(&bonds, &peer);
	struct bond_counters *c = bpf_map_lookup_elem(&counters, &peer);
	if (!b || !c)
		return TC_ACT_SHOT;
	if (b->active == key) {
		c->in_frames++;
		return bpf_redirect(peer, 0);
	}
	if (b->dup == key) {
		c->in_dup++;
		return bpf_redirect(peer, 0);
	}
	if (b->prev == key && bpf_ktime_get_ns() < b->prev_until_ns) {
		c->in_grace++;
		return bpf_redirect(peer, 0);
	}
	c->dropped_backup++;
	return TC_ACT_SHOT;
}

char __license[] SEC("license") = "Dual MIT/GPL";
