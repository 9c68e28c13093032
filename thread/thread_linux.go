package thread

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
