package tunnel

// tapAlias marks the TAPs this package creates (IFLA_IFALIAS) when its
// Manager has no Options.Alias (the daemon's owner mark), so that a TAP
// left behind by an earlier run is recognised as ours.
const tapAlias = "multilink-tunnel"

// devices is what the Manager needs of the kernel's links in its network
// namespace. kernelDevices (tap_linux.go) is the real one; unit tests use
// a fake.
type devices interface {
	// inspect tells whether a link named name exists and, if so, whether
	// it is a TAP of ours (tapAlias), whether a process has it open (asked
	// for ours only) and whether it is up.
	inspect(name string) (tapInfo, error)
	// createTap creates a persistent TAP and sets its admin state.
	createTap(name string, up bool) error
	// setUp sets the admin state of a link.
	setUp(name string, up bool) error
	// remove deletes a TAP of ours; a missing one is not an error.
	remove(name string) error
	close() error
}

// tapInfo is what devices.inspect found of a name.
type tapInfo struct {
	found bool // a link of that name exists
	ours  bool // it is a TAP with our alias
	busy  bool // ours, and a process has it open
	up    bool // its admin state
}

// idle tells whether it is a TAP of ours that no process holds: one to
// take over.
func (i tapInfo) idle() bool { return i.ours && !i.busy }
