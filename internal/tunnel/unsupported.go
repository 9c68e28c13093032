//go:build !linux

package tunnel

import (
	"errors"
	"syscall"

	"github.com/vishvananda/netns"
)

func newKernelDevices(netns.NsHandle, string) (devices, error) {
	return nil, errors.ErrUnsupported
}

func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
