package tunnel

// tapAlias marks the TAPs this package creates (IFLA_IFALIAS) when its
// Manager has no Options.Alias (the daemon's owner mark), so that a TAP
// left behind by an earlier run is recognised as ours.
const tapAlias = "multilink-tunnel"

// devices is what the Manager needs of the kernel's links in its network
// namespace. kernelDevices (tap_linux.go) is the real one; unit tests use
// a fake.
type devices interface {
	// lookup reports whether a link named name exists and, if so, whether
	// it is a TAP of ours (tapAlias) that no process has open.
	lookup(name string) (found, idleOurs bool, err error)
	// createTap creates a persistent TAP and sets its admin state.
	createTap(name string, up bool) error
	// setUp sets the admin state of a link.
	setUp(name string, up bool) error
	// remove deletes a TAP of ours; a missing one is not an error.
	remove(name string) error
	close() error
}
