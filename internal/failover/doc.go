// Package failover decides which link each gateway bond uses, from the
// probe's measurements, and acts on the bond: faster than the bond's ARP
// monitor on a dead link, and able to leave a slow or lossy one, which the
// ARP monitor cannot see.
//
// # Health
//
// Each link has a judge (a state machine fed with every probe reply and
// loss) in one of four states:
//
//   - unknown: just added, no reply yet;
//   - up: answering within its thresholds;
//   - degraded: slow (smoothed RTT above max(3 x baseline, baseline +
//     150 ms), the baseline being the lowest RTT of the last 10 minutes)
//     or lossy (the loss test below), or in its hold-down after an outage;
//   - down: its last n probes lost in a row, or silent too long.
//
// Evidence comes from the probe (package probe): a probe counts as lost at
// its reply timeout, a few milliseconds past the link's RTT and its spread
// (max(5 ms, SRTT + 4 RTTVAR, 5/4 of the largest RTT of the last 10 s)),
// and each loss starts a burst of probes 2 ms apart. So a cut shows as
// several losses within some milliseconds of the RTT, while a jittery
// link's late replies are not losses (its spread is in the timeout).
//
// Down: n probes lost in a row, n being the run that the link's own loss
// rate (over about its last 1000 probes, at least 0.3 %) shows by chance
// once in 10^7 runs, and at least Policy.DeadProbes: 3 on a clean link, 5
// at 2 % loss, 6 at 6 %. Losses count only for probes sent after the
// latest answered one; any reply, even a late one, ends the run. The link
// must also have been silent for the dead time's floor, max(DeadFloor,
// DeadProbes x its interval), 60 ms at 20 ms probes: a tunnel's pause (an
// OpenVPN renegotiation holds its data channel for some tens of ms) loses
// a run of probes as a cut does; and for an interval plus its reply
// timeout: a healthy jittery link's replies come that far apart at times
// (RTT 0-60 ms: 80 ms), and a run of late ones is no cut. The eBPF bond copies its frames to the
// standby from the first lost probe meanwhile (docs/redundancy.md), so
// the wait costs little where it can. Nor is silence on
// every link at once death: busy CPUs that starve the tunnels' processes
// delay every reply, so a link is declared down only once another link
// has answered since its last reply (or after max(1 s, 2 x its dead time)
// of silence everywhere). From its first loss (or half its dead time of
// silence, counted after the kernel's last replies are read: a fast link's
// replies wait up to an interval in the ring) the active link is suspect
// and every link is probed at the active rate, so on a real cut a healthy
// standby has answered by the time the run is complete. On a busy host
// (CPU pressure, PSI, of 25 % or more over the last second: some task
// waited for a CPU) the link must also have been silent for its dead time
// stretched by 1.5 at 25 % up to 1.8 at 100 %: replies that cross
// user-space tunnels come late then.
//
// Silence alone (no probe counted lost: none could be sent, or the probe
// has no RTT for the link yet) makes a link down past its dead time,
// max(floor, 2*SRTT + 4*RTTVAR) (SRT's watchdog), floor = max(15 ms, 3 x
// the link's probe interval), and past 300 ms once the link has an RTT:
// jitter alone leaves gaps between replies longer than the dead time. A
// link made active is given a new dead time at its new probe rate, and so
// is an idle active link (probed at the idle interval, 500 ms) when data
// leaves it again (the probe's Resumed sample). Silence counts only if the
// link was asked: the first probe sent after its last reply must be
// unanswered for the dead time less one interval (a daemon that sent
// nothing heard nothing). A link that is down comes back only with a
// reply. A standby that loses its probe or is silent for half its dead
// time is suspect too and probed at the active rate until it answers or
// is down.
//
// Lossy: a one-sided CUSUM of each probe's log-likelihood ratio between
// loss rates of LossDegraded/4 and 3 x LossDegraded (2.5 % and 30 % by
// default), read as of the latest reply, alarms at 14 (see lossTest): a
// sustained loss above about 12 % raises it steadily, a few percent of
// random loss falls back to zero. While it is past a third of the alarm
// the active link is probed at the burst rate, so a 30 % loss is decided
// on tens of probes within tens of milliseconds; a run of losses counts
// at most two of them (a longer one is an outage, judged as such).
//
// Hysteresis: a degraded link recovers below lower thresholds (max(2x,
// +100 ms), 5 % loss over the last 50 probes and the loss test under half
// its alarm), and a link that was down or degraded counts as
// up only after a hold-down of good health (2 s; SRT's wary period). Each
// time a link that was up (trusted again) goes down, its flap penalty grows
// by one, halving every minute; the hold-down is 2 s x 2^(penalty-1), at
// most a minute, so a link that keeps failing after being trusted is kept
// out longer and longer, while the blips of one bad period (a lossy link
// going between degraded and down) count as one failure. Every threshold is a Policy
// field, changeable at run time.
//
// # Decision
//
// Links are ranked: the policy's order if given, else the configured
// primary first and the rest in slave order. The active link is the
// highest-ranked up link. A degraded active link is left for an up one;
// if none is up, the best-scoring degraded link is used (score = SRTT +
// 4*RTTVAR + loss x 1 s), the active one kept unless another is 20 %
// better; if every link is down the active one stays and probing goes on.
// Failback to a recovered higher-ranked link happens only once its
// hold-down is over. Links ranked above the active one that are not up
// (down, degraded, in hold-down) are probed at the active rate, so a
// recovery shows at once and is proven before traffic returns
// (make-before-break); the links ranked below stay at the standby rate
// while the active link is up. While it is not, every link is probed at the
// active rate, so the choice among them rests on fresh figures.
// A pin overrides all of this until released. With no link up, the engine
// moves between degraded links at most once per hold-down (each move
// costs a blackout, and a stalled CPU makes every link look bad at once).
//
// A sudden delay shows first as losses: +300 ms makes every probe late
// past its timeout, the link is left for reason down within about 50 ms,
// and comes back as degraded when its late replies arrive. Before a
// link is declared down the engine reads the kernel's last reply time, so
// a daemon slowed down by a busy CPU does not take unread replies for
// silence.
//
// # Action
//
// Steering goes through Steerer: for the kernel bond the gateway sets the
// bond's primary (which switches at once and keeps the kernel's own ARP
// monitor in agreement), then a gratuitous ARP from the bond's address
// moves the hub bridge's forwarding entry and the hub's neighbour entry.
// The same announcement follows the active link's first reply after a
// silence past its dead time when the bond stayed on it (every link was
// silent: the hub's neighbour entry may have failed meanwhile).
// Every switch and every link state change is an Event (bounded history),
// with the reason and the detection latency; Collector exports
// multilink_failovers_total, multilink_active_link and multilink_link_state.
// A switch the bond makes by itself (the kernel bond's ARP monitor saw the
// active link die first, or thought so) is noticed within half a second,
// recorded with reason "kernel" and announced to the hub; then the
// engine's decision rules. If it rates the link the bond left better, it
// steers back at once; else it keeps the bond's choice and sets the bond's
// primary to it (or the kernel would return to the old primary the moment
// it answers again, past hold-down and flap damping), and returns to the
// link left only once our probes have found it up for a hold-down since.
// The engine never follows the bond's monitor onto a link it rates worse:
// under a starved CPU that monitor flips between slaves.
package failover
