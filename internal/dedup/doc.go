// Package dedup holds the duplicate filter: a tc program (internal/bpf/dedup.c)
// on the ingress of TAPs that drops the second copy of a frame arriving
// twice within a short window, over two links. It is the receiving half
// of selective redundancy, whose sending half is the eBPF bond's duplicate
// link (bond.Duplicator); docs/redundancy.md has the design, the frame
// identity and the limits.
//
// One Filter (one program, one table of frames seen) serves every TAP of
// a host: a frame's identity includes its source MAC, so two gateways'
// frames never collide. On a TAP it runs after the probe and before the
// eBPF bond's bond_in: with TCX, anchored before bond_in (else at the tail,
// where a bond_in attached later follows it; the probe takes the head);
// with legacy filters, at priority 5 (the probe has 1, the bond 10). The
// hub's TAPs have only the bridge after it, and tc ingress runs before
// the bridge. It passes every frame it keeps with TC_ACT_UNSPEC, so what
// comes after sees it unchanged.
package dedup
