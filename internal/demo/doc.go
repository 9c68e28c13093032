// Package demo is `multilink demo`: the whole system on one host. It builds
// a hub and a gateway in network namespaces joined by two emulated wireless
// links, starts a real multilink daemon in each (this very binary), drives
// them only through their REST APIs with the spec's example bodies
// (addresses adapted), runs traffic both ways, and plays a timeline: cut
// the primary link, restore it, degrade it (delay, then loss), restore it.
// Meanwhile it prints a live view (per-link RTT and state, the active
// link, events) and at the end a summary with the blackout and the switch
// time of each step, as text or JSON. Everything it made is removed when
// it ends or is interrupted.
//
// The namespaces and links come from package topology (shared with the
// end-to-end tests); the links are emulated in userspace (package
// impairment), so delay and loss work on kernels without netem.
package demo
