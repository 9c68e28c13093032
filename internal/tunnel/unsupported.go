//go:build !linux

package tunnel

import (
	"errors"
	"log/slog"
	"syscall"

	"github.com/vishvananda/netns"
)

func newKernelDevices(netns.NsHandle, string) (devices, error) {
	return nil, errors.ErrUnsupported
}

// EndStrays has nothing to end where openvpn keeps its parent-death
// signal or does not run.
func EndStrays(string, *slog.Logger) error { return nil }

func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
