//go:build !linux

package nsthread

import "github.com/vishvananda/netns"

// In runs fn; there are no network namespaces to enter off Linux.
func In(_ netns.NsHandle, fn func() error) error { return fn() }
