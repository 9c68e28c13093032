// Package owner marks the network interfaces a daemon makes (bridges,
// bonds, the eBPF bond's veth pair) as its own, so that the next daemon on
// the same state dir recognises them after a crash: each carries the
// interface alias "multilink:<instance>", where the instance is an id
// generated once into the state dir. At start the daemon removes every
// interface carrying its mark (the lock on the state dir guarantees no
// other daemon uses that mark), then builds the desired state anew; an
// interface without the mark is never touched and still conflicts by name.
//
// The kernel ignores IFLA_IFALIAS in a link's creation request, so the
// mark is set by a second request right after: a crash between the two
// leaves an unmarked interface, which then answers 409 like anything not
// ours, naming it.
package owner
