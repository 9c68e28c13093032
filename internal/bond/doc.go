// Package bond runs a gateway's bond of TAP uplinks. The rest of multilink
// talks to bonds only through Driver; Kernel is the Driver on the kernel's
// bonding driver, driven through netlink (github.com/vishvananda/netlink);
// EBPF is the Driver on tc programs (internal/bpf/bond.c) for kernels
// without it; Chooser picks one of them per bond (auto: the kernel's where
// it exists).
//
// # The eBPF bond
//
// The bond device is one end of a veth pair holding the address; its
// hidden peer (mlb<hash>) redirects every frame to the active TAP, and the
// active TAP's ingress redirects back; frames on other members are
// dropped (after the probe counted them), except on the member left by the
// last switch during its grace. Parameters: every one is validated,
// stored and reported by Info as for the kernel bond; only these act:
//
//	bonding_mode   1 (active-backup) only; others are refused
//	primary        switches to that slave at once (one map write)
//	active_slave   the same
//
// arp_interval, arp_ip_target, arp_validate, miimon and the rest mean
// nothing here: there is no monitor in the data path, the failover engine
// (package failover) decides, from the probe's measurements. fail_over_mac
// is moot: the bond keeps the veth's MAC, and a switch is followed by a
// gratuitous ARP from it.
//
// # Duplicating frames
//
// EBPF.SetDuplicate (Duplicator; the Chooser passes it on, a kernel bond
// refuses it) names a member other than the active one that gets a copy
// of every frame the bond sends, and whose frames in are taken, until it
// is called with "" or the bond switches to that member: the failover
// engine's window of doubt about the active link. The receiving end drops
// the second copy (package dedup); docs/redundancy.md has the design.
//
// # Switching with a grace
//
// Switcher.Switch moves traffic at once and, for a grace (from the daemon:
// 500 ms, longer between slow links), still delivers the frames that arrive on the link just left:
// replies already in flight on the old path, before the hub follows the
// switch. The eBPF bond keeps the previous member and a deadline in its
// state; the kernel bond sets all_slaves_active for the grace. With the
// kernel bond's fail_over_mac 1 (the spec's) the bond's MAC follows the
// active slave, so frames in flight to the old MAC are lost anyway; with
// fail_over_mac 0 failback is lossless.
//
// # Parameters
//
// Each api.BondParams field maps to one IFLA_BOND_* attribute of the
// bond's IFLA_LINKINFO/IFLA_INFO_DATA (linux/if_link.h), sent by one of
// three paths: a netlink.Bond field (netlink sends the fields that are not
// NewLinkBond's -1, so a change carries exactly the given parameters), a
// raw attribute in an RTM_NEWLINK of our own (Raw) for the two that
// netlink.Bond lacks, or the reconfigure cycle.
//
//	parameter          attribute (type)                  path
//	bonding_mode       IFLA_BOND_MODE (u8)               Bond.Mode; changes: reconfigure cycle
//	primary            IFLA_BOND_PRIMARY (u32 ifindex)   Bond.Primary, after the slaves; "" sends 0: clears
//	active_slave       IFLA_BOND_ACTIVE_SLAVE (ifindex)  Bond.ActiveSlave, last; "" sends 0: kernel reselects
//	arp_interval       IFLA_BOND_ARP_INTERVAL (u32 ms)   Bond.ArpInterval
//	arp_ip_target      IFLA_BOND_ARP_IP_TARGET (nested)  Bond.ArpIpTargets; replaces the list, [] clears
//	arp_validate       IFLA_BOND_ARP_VALIDATE (u32)      Bond.ArpValidate
//	arp_missed_max     IFLA_BOND_MISSED_MAX = 30 (u8)    raw (Linux 5.19)
//	fail_over_mac      IFLA_BOND_FAIL_OVER_MAC (u8)      Bond.FailOverMac; changes: reconfigure cycle
//	primary_reselect   IFLA_BOND_PRIMARY_RESELECT (u8)   Bond.PrimaryReselect
//	num_grat_arp       IFLA_BOND_NUM_PEER_NOTIF (u8)     Bond.NumPeerNotif
//	peer_notif_delay   IFLA_BOND_PEER_NOTIF_DELAY = 28   raw, u32 ms (Linux 5.3)
//	miimon             IFLA_BOND_MIIMON (u32 ms)         Bond.Miimon
//	updelay            IFLA_BOND_UPDELAY (u32 ms)        Bond.UpDelay
//	downdelay          IFLA_BOND_DOWNDELAY (u32 ms)      Bond.DownDelay
//	all_slaves_active  IFLA_BOND_ALL_SLAVES_ACTIVE (u8)  Bond.AllSlavesActive
//
// Info reads the netlink.Bond fields with LinkByName and the raw ones with
// an RTM_GETLINK of our own (Raw.BondData), since netlink parses only the
// attributes it knows. primary and active_slave are reported as names.
//
// # Order and the reconfigure cycle
//
// The kernel takes mode only from a bond that is down and has no slaves,
// and fail_over_mac only from a bond without slaves (even unchanged: Set
// sends neither when it equals the live value). Create therefore puts
// every parameter in the message that creates the bond, then enslaves the
// slaves in Spec order (down, master, up), then sets primary, the address
// and the bond up, and rolls all of it back on error. Set changes mode or
// fail_over_mac by a bounded reconfigure cycle: bond down (mode only),
// release every slave, send the parameters, enslave the slaves again in
// order, restore the primary, bond up, restore the active slave. Taking
// the bond down flushes the routes through it: whoever added them must add
// them again after a mode change. Every other parameter is changed in
// place.
//
// # What the kernel does by itself
//
// From bond_options.c and bond_netlink.c; Set's validation
// (api.BondParams.Check on the merged parameters) models these:
//   - a mode change resets arp_validate to none; a mode without ARP
//     monitoring (802.3ad, balance-tlb, balance-alb) sets arp_interval 0 and
//     miimon 100 if it was 0;
//   - miimon > 0 turns ARP monitoring and arp_validate off; arp_interval > 0
//     turns miimon off; both > 0 in one message, or arp_validate > 0 with
//     miimon > 0 in one message, is refused (EINVAL);
//   - updelay, downdelay and peer_notif_delay are stored as multiples of
//     miimon (rounded down) and refused while miimon is 0 (EPERM), so a 0
//     is not sent then (it reads back as 0 anyway);
//   - IFLA_BOND_PRIMARY names a device by ifindex; the kernel reports the
//     primary only while it is a slave and the mode has one. Setting the
//     primary selects it as active at once if its link is up; active_slave
//     does not move the bond off a primary that is up (seen in the kernel
//     lab on 6.1),
//     so steer an active-backup bond with primary.
//
// # Kernel versions
//
// arp_missed_max needs Linux 5.19 and peer_notif_delay 5.3. Older kernels
// ignore the unknown attributes silently (the bond's netlink policy is
// parsed liberally) and do not report them, so Kernel checks that the bond
// reports an attribute before sending it: one the kernel lacks is
// errkind.KindInvalid matching ErrNotSupported, and changes nothing. On such
// kernels Info reads arp_missed_max as 2 (their fixed behaviour) and
// peer_notif_delay as 0. Recent kernels limit peer_notif_delay to
// 300000 ms in the netlink policy. A kernel without the bonding driver
// fails Create with ErrNotSupported ("kernel has no bonding driver").
//
// # Netlink
//
// Netlink is the part of *netlink.Handle the driver uses; Raw carries the
// raw requests (an RTM_NEWLINK without NLM_F_CREATE and an RTM_GETLINK,
// both by name). Handle is both, in one namespace; with a plain
// *netlink.Handle, Kernel opens its own route socket in the process's
// namespace, and Info refuses to answer if the two see different ifindexes.
// Dumps the kernel interrupts (NLM_F_DUMP_INTR) are retried a bounded
// number of times. Kernel errors are classified for the API: EINVAL,
// ERANGE, EACCES (option not for this mode) and EOPNOTSUPP as
// errkind.KindInvalid, EEXIST as errkind.KindConflict, ENODEV as
// errkind.KindNotFound.
//
// # Outliving the daemon
//
// Bonds are kernel objects and keep forwarding when the daemon ends.
// Create takes over a bond of its kind that an earlier run left under the
// spec's name and mark instead of failing: the kernel bond gets only the
// parameters that differ from the spec (never primary or active_slave,
// which the failover engine steers) and its missing slaves; the eBPF bond
// keeps its active link, counters and attachments when its maps and TCX
// links were pinned (NewEBPF's pin dir, on a bpffs). Release forgets every
// bond and changes nothing in the kernel; the Chooser routes a Create to
// the driver whose kind of bond is there, or has it removed when the spec
// asks for the other kind.
package bond
