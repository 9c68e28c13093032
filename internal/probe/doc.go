// Package probe measures each link of a gateway bond in the kernel and
// reports what it sees: the truth about every link that the bond's ARP
// monitor (alive or not, every 2 x arp_interval) does not have.
//
// # In the kernel
//
// The tc programs of package bpf run on ingress and egress of every TAP
// (TCX on kernels that have it, 6.6+; clsact with a cls_bpf filter in
// direct-action mode before that, chosen at run time). Per link they count
// frames and bytes, the ARP requests leaving for the probe target and the
// replies arriving from it, keep the time of the last frame and the last
// reply, and time the daemon's ARP probes into a log2 histogram. A ring
// buffer carries an event per reply to the daemon (kernels since 5.8;
// before that the daemon polls the counters). The programs never drop or
// hold what passes; the one change they make is to a frame addressed to
// another probed TAP's MAC (the host_macs map, kept by the Monitor as it
// adds and removes links): it is marked as for this host (PACKET_HOST),
// not dropped by IP as another host's. The kernel bond with
// fail_over_mac 1 needs it: at a switch it sends a few frames on the new
// slave with the old slave's MAC, the hub's bridge learns that MAC on the
// new link, and the hub's frames to it would be lost until its ARP entry
// follows the bond. They run before the bond's rx handler, so replies on
// an inactive slave, which the bond drops, are measured too.
//
// Each link gets its own instance of the programs, with its own .bss: the
// link's traffic counters, a 64-byte slot per CPU. A frame touches only
// its CPU's slot, found by address (no map lookup, no key, no read of a
// load-time constant), so it costs one cache line; ARP frames go on to the
// shared per-link arrays at the index the instance was loaded with (the
// links map gives the index by ifindex, for tools). The last frame's time
// is the coarse clock's, read at most once a jiffy: a bpf_jiffies64
// compare (one load) gates the call, so a frame in the same jiffy reads
// no clock at all; the hot path is measured in nanoseconds, and a clock
// read on every frame would be a large part of it (docs/benchmarks.md,
// Probe cost). On kernels without those helpers (bpf_ktime_get_coarse_ns
// before 5.11, bpf_jiffies64 before 5.5) the loader rewrites the calls to
// the precise clock rather than have the programs test a flag. The price
// of an instance per link is one verifier pass per TAP when it is added,
// and 64 KiB per link for 1024 CPUs' slots (machines with more possible
// CPUs are refused).
//
// # Probes
//
// The daemon sends an ARP probe out of each TAP to the probe target (the
// hub bridge's address): every Interval on the active link, every
// BackupInterval on the others (a metered backup costs next to nothing).
// An active link that has sent no data for IdleAfter is idle and probed
// every IdleInterval (the daemon's default 500 ms; none in this package
// by default): 20 ms probes cost an idle link 15 KB/s of underlay. The
// egress program stamps each jiffy's first data frame (a unicast frame but
// an ARP for the target: multicast and broadcast are the hosts' chatter,
// IPv6 router solicitations and the like) in the link's stats, which
// every tick reads anyway,
// and a data frame that follows more than IdleAfter without any sends an
// event (EVENT_RESUMED) that wakes the reader at once: the prober is back
// at Interval, probes at once and publishes a Resumed sample, so the
// engine judges the link at the fast rate from that moment. Without a
// ring buffer the next idle tick finds the stamp. Only frames sent count:
// data that only arrives (nothing answered) leaves the link idle, and a
// cut then shows within 3 idle intervals.
// A probe is an RFC 5227 probe: sender IP 0.0.0.0, which Linux answers by
// unicast to the probe's source MAC without touching its neighbour table.
// That MAC is a per-link, locally administered address the daemon makes
// up, never the bond's nor a TAP's, so probing a backup never moves the
// hub bridge's forwarding entry for the bond's MAC nor the hub's ARP entry
// for the bond's address. (The issue allowed the TAP's own MAC where it
// differs from the bond's; with fail_over_mac 1 the active TAP's MAC is the
// bond's, so one made-up MAC per link is the simpler rule that always
// holds.) Once the hub has answered, probes go by unicast to its MAC, so
// the hub bridge does not flood them down every other link; a broadcast
// probe is sent again when replies stop.
//
// The low 5 bits of the probe MAC name one of 32 slots, used in turn. The
// kernel keeps each slot's departure time, so a reply is matched to its own
// probe even when several are in flight: an RTT up to 32 intervals (640 ms
// at 20 ms) is measured right. A slot still awaiting a reply is not used
// again before max(500 ms, twice the loss timeout), so on a slower link the
// prober slows down rather than mismatching replies. The price: the hub
// bridge learns up to 32 MACs per link (they age out when probing stops).
//
// # Losses and bursts
//
// A probe counts as lost once unanswered for its link's reply timeout, a
// few milliseconds past its RTT and the RTT's recent spread (timing.go);
// the prober ticks at that deadline as well as at its interval, so a loss
// is known when it happens, and a reply that comes after all is a late
// one (the probe is then no loss). A loss starts a burst: the link is
// probed every 2 ms until four replies come in a row (at most 24 probes,
// then none for a second; none for a link silent a second), so a cut is
// confirmed by several losses within milliseconds. The failover engine
// may also hold an active link at that rate (SetSuspect) while its loss
// looks high. Each lost sample carries its probe's send time; the loss
// over about the last 1000 probes (Figures.LossLong) is what the engine
// weighs runs of losses against.
//
// # Readout
//
// Monitor.Links returns per-link figures (RTT last, smoothed and its
// variance, jitter, loss over a window, last reply age, counters, the RTT
// histogram); Collector exports them to Prometheus, read from the maps at
// scrape time; Monitor.Subscribe delivers each reply and each loss as it
// is seen, for the failover decisions.
//
// The ring buffer's reader never blocks in a system call: it drains the
// ring without waiting and parks in the Go runtime's network poller on the
// ring's fd (ringWaiter). A reader blocked in epoll_wait would keep the
// runtime's sysmon thread polling every 20 µs, which would be most of an
// idle daemon's CPU.
//
// A prober's clock is a timerfd that its goroutine waits on in the same
// poller (timerAlarm), and every system call of its tick is raw: the
// stats lookup, the probe's sendto (on a non-blocking socket), the timer's
// set; the ring is read only while it holds data, and CLOCK_MONOTONIC is
// read through Go's clock. The reason: a time.Timer wakes the process
// three to four times a tick (the runtime's sysmon sleeps until the next
// timer; the poller waits in whole milliseconds, so wakes early and
// again), a timerfd once, and each system call through the runtime's
// hooks wakes a sleeping sysmon. BenchmarkTickFloor prices the two clocks
// (about 0.9 % against 0.3 % of one CPU for a 20 ms tick on the project's
// test VM; docs/benchmarks.md).
//
// Not every reply wakes the reader. A wake-up is an interrupt (irq_work)
// on the CPU that took the reply, raised inside the program's run and
// charged to it: tens of µs in a VM, where a data frame costs the program
// a few ns, and the active link takes 50 replies a second, so waking on
// every reply would dominate the program's average cost per frame in a
// tunnel's traffic (BenchmarkProbeCost's eager baseline;
// docs/benchmarks.md). A link probed every 50 ms or faster therefore gets
// a wake gap (two intervals) in its config: a reply within it of the
// link's previous reply waits in the ring, and the link's prober drains
// the ring before each probe (before it counts losses), so it waits one
// interval at most and keeps the kernel's arrival time. The first reply,
// one after a gap (a loss, a stall, a sudden delay) and every reply of a
// slower link wake the reader at once. A link's death is judged from the
// kernel's last-reply time (Monitor.LastReply), not from events, so no
// reply waiting in the ring makes a link look dead.//
// # Outliving the daemon
//
// With Options.PinDir (a directory on a bpffs) the kernel side outlives
// the Monitor: the shared maps are pinned by name under <PinDir>/maps (a
// directory of their own: one map is called links), each link's programs
// and .bss under <PinDir>/links/<tap>/ (prog_ingress, prog_egress, bss),
// with its TCX links (tcattach pins them there; legacy filters hold their
// programs by themselves). Release stops the probers and the ring reader
// and closes every file descriptor, and leaves all that attached, pinned
// and counting. The next Monitor with the same PinDir re-opens the maps
// when they have the layout this build makes on this kernel (the spec as
// patched for it: the same kernel and options give the same spec), else it
// unpins everything and starts afresh. Its Add takes a link over in two
// parts: the entry (the index the links map gives the TAP's ifindex, the
// probe MAC in its config, its stats: ARP counters, last reply, RTT
// histogram), and the programs with their .bss (traffic counters), taken
// over only when they are this build's instructions (tag) bound to that
// index, the shared maps and that .bss. Programs of another build (an
// upgrade) or a missing pin: this build's programs are loaded for the kept
// entry and replace the attachment in place (a TCX link update, a
// FilterReplace), the traffic counters start from zero. A damaged entry (no
// index for the ifindex, as when the TAP was made anew; no probe MAC of
// ours): the link is loaded afresh. The ring reader drains what the
// kernel queued meanwhile (same-boot monotonic times, still right).
// Remove and Close detach and unpin; Close unpins the whole PinDir, an
// earlier run's leftovers too. Pins of TAPs that no longer exist are
// removed when the maps load; those of TAPs that exist but are not added
// again stay until Close.
package probe
