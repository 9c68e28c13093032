//go:build !linux

package tunnel

import (
	"context"
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

func procAttr(bool) *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// EndUnclaimed has nothing to end where nothing is adopted.
func (m *Manager) EndUnclaimed(context.Context, func(string) bool) error { return nil }

// Nothing is adopted without /proc and pidfds.
func (m *Manager) adopt(Spec, []byte) *adoption { return nil }

type adoption struct {
	p        *proc
	restarts int
	up       bool
	logged   bool
	offset   int64
	lines    []string
}

func nsIdentity(netns.NsHandle) (uint64, error) { return 0, nil }

func newPidRecord(int, string, []byte, uint64, int) (pidRecord, error) {
	return pidRecord{}, errors.ErrUnsupported
}
