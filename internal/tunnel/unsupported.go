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

func killStrays(string, *slog.Logger) error { return nil }

func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
