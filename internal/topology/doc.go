// Package topology builds the hub/gateway namespace world that
// `multilink demo` plays its timeline in and the end-to-end tests run the
// real binary in: a hub namespace and a gateway namespace joined by two
// underlays ("wireless links") u1 and u2, with the addresses every one of
// them uses named once here.
//
// The underlays are either veth pairs straight from the gateway to the
// hub (VethPairs: impaired with the kernel, link down or netem) or
// emulated links through a third "net" namespace (Emulated: package
// impairment's relay, so cut, delay and loss work on kernels without
// netem). New builds the namespaces (named <prefix>-<random>-{hub,gw,net}
// so that `ip netns` shows whose they are), brings lo up in each, makes
// the underlays and addresses their ends; on error it removes what it
// made. Close removes the emulated links and the namespaces.
//
// What runs in the namespaces (daemons, OpenVPN) is its starter's to stop
// before Close: a namespace with a process left in it outlives its name.
package topology
