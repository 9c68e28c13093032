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
//     or lossy (more than 10 % of the last probes), or in its hold-down
//     after an outage;
//   - down: no reply for the dead time, max(floor, 2*SRTT + 4*RTTVAR)
//     (SRT's watchdog), floor = max(15 ms, 3 x the link's probe interval),
//     so a fast link is declared dead in about 60 ms and a slow one is not
//     declared dead by its own latency. A link made active is given a new
//     dead time at its new probe rate, and so is an idle active link (probed
//     at the idle interval, 500 ms: dead in 1.5 s) when data leaves it
//     again (the probe's Resumed sample): a link that died while idle is
//     left about 60 ms after traffic returns; a link that is down comes back only
//     with a reply. Silence counts only if the link was asked: the first
//     probe sent after its last reply must be unanswered for the dead time
//     less one interval. A daemon that sent nothing for a while (a stalled
//     CPU, a long pause) heard nothing because it asked nothing, and that is
//     not the link's death. Nor is silence on every link at once: busy
//     CPUs that starve the tunnels' processes delay every reply, so a
//     link past its dead time is declared down only once another link
//     has answered since its last reply (or after max(1 s, 2 x its dead
//     time) of silence everywhere). From half its dead time of silence
//     (counted after the kernel's last replies are read: a fast link's
//     replies wait up to an interval in the ring) the active link is
//     suspect and every link is probed at the active rate, so on a real
//     cut a healthy standby has answered by the dead time and the cut is
//     left no later than before. A standby silent for
//     half its dead time is suspect too and probed at the active rate
//     until it answers or is down (a dead standby is known in about 7 s
//     at the 5 s standby rate, not 15). On a busy host (CPU pressure,
//     PSI, of 25 % or more over the last second: some task waited for a
//     CPU) dead times are stretched, by 1.5 at 25 % up to 1.8 at 100 %:
//     replies that cross user-space tunnels come late then, and a cut is
//     still left within twice the idle time.
//
// Hysteresis: a degraded link recovers below lower thresholds (max(2x,
// +100 ms) and 5 % loss), and a link that was down or degraded counts as
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
// A sudden impairment often shows first as silence: a +300 ms delay
// delays every reply past the dead time, and 30 % loss soon loses three
// probes in a row. The link is then left for reason down within about
// 60 ms, and comes back as degraded when its late replies arrive. Before a
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
