package api

import "github.com/multilink/multilink/internal/errkind"

// Bond drivers: which implementation makes a client's bond.
const (
	DriverAuto   = "auto"   // the kernel's bonding driver where the kernel has it, else eBPF
	DriverKernel = "kernel" // the kernel's bonding driver
	DriverEBPF   = "ebpf"   // the eBPF data path (tc programs)
)

// CheckDriver validates a bond driver name ("" is auto).
func CheckDriver(field, d string) error {
	switch d {
	case "", DriverAuto, DriverKernel, DriverEBPF:
		return nil
	}
	return errkind.Invalid(field, "%q is none of auto, kernel, ebpf", d)
}
