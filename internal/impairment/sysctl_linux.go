package impairment

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// disableIPv6 turns IPv6 off on interface name, so the kernel gives it no
// link-local address and sends no neighbour discovery or MLD from it. It
// must run on a thread inside the interface's namespace: /proc/sys/net
// shows the network namespace of the thread that opens it. A kernel
// without IPv6 has nothing to turn off.
func disableIPv6(name string) error {
	p := filepath.Join("/proc/sys/net/ipv6/conf", name, "disable_ipv6")
	err := os.WriteFile(p, []byte("1\n"), 0o644)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat("/proc/sys/net/ipv6"); errors.Is(serr, fs.ErrNotExist) {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("disable ipv6 on %s: %w", name, err)
	}
	return nil
}
