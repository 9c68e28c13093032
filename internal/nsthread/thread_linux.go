package nsthread

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// In runs fn on a fresh locked OS thread inside ns (the caller's namespace
// when ns is not open) and returns fn's error.
func In(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Keep the main thread locked to this goroutine meanwhile, so
			// the new goroutine lands elsewhere; then give it back, still
			// in its own namespace.
			errc <- In(ns, fn)
			runtime.UnlockOSThread()
			return
		}
		if ns.IsOpen() {
			if err := netns.Set(ns); err != nil {
				errc <- fmt.Errorf("enter netns: %w", err)
				return
			}
		}
		errc <- fn()
	}()
	return <-errc
}

// NewNamed creates a network namespace named name (a bind mount under
// /var/run/netns, visible to `ip netns`) and returns a handle to it,
// without leaving any thread in it.
func NewNamed(name string) (netns.NsHandle, error) {
	var ns netns.NsHandle
	err := In(netns.None(), func() error {
		var err error
		// The fresh thread is left in the new namespace and ends with fn.
		ns, err = netns.NewNamed(name)
		return err
	})
	if err != nil {
		return netns.None(), fmt.Errorf("create netns %s: %w", name, err)
	}
	return ns, nil
}
