// Package gateway is the client role of multilink: for each started client
// it fetches the link key and ports from the hub's API, pins every link to
// its hardware interface, starts one supervised OpenVPN TAP tunnel per
// slave (tap1..tapN in slave order), and bonds the TAPs through a
// bond.Driver with the requested parameters and address.
//
// The gateway owns its data plane: New makes the bond drivers (kernel and
// eBPF), the eBPF probe and the failover engines' manager; a bond that
// comes up is probed on every link and gets its engine, whose decisions
// are steered into the bond (the kernel bond through its primary, the
// eBPF bond by one map write, both with a grace that keeps failback
// lossless); a bond that goes down loses both first. Close stops the
// bonds, then the data plane. So a decision travels engine -> gateway ->
// bond driver, inside this package.
//
// Pinning: each link's OpenVPN socket is bound to its hw_int
// (SO_BINDTODEVICE) and carries a firewall mark; a policy rule sends that
// mark to a routing table of its own holding the route to the hub through
// that interface (on-link to ip_server/netmask, or via the slave's optional
// "gateway"). So link i leaves by interface i even when every link reaches
// the same hub address, and the main routing table is never touched.
//
// Links that lose their hub come back on their own (Reclaim): one silent
// for 5 s gets a new session (revive.go), a bond with no link up for 10 s
// claims its bridge again (reclaim.go), and a link whose hub end said it
// exits is restarted the moment the hub's status serves it again
// (hubback.go: a hub container's restart, where OpenVPN alone would take
// two seconds).
package gateway
