// Package e2e runs the spec's scenario end to end: real multilink binaries
// in two network namespaces (hub and gateway) joined by veth underlays,
// real OpenVPN, driven only through their REST APIs. The namespaces and
// underlays come from package topology, the world `multilink demo` plays
// in (with emulated underlays where a benchmark asks for them).
//
// The tests need root, openvpn and ip. On a kernel without the bonding
// driver (this project's CI host) the client-bond steps check that a client
// start fails cleanly and leaves nothing behind; the full failover scenario
// runs in the kernel lab, where bonding exists and a skip is a failure.
package e2e
