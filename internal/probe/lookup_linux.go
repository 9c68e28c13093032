package probe

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ptr64 is a pointer in a 64-bit field of a bpf(2) attribute: one
// pointer on 64-bit machines, a pointer and a zero on 32-bit ones (the
// package's objects are little-endian only: the low bytes). An array, not
// a struct with padding last: Go pads a struct that ends in a zero-size
// field.
type ptr64 [8 / unsafe.Sizeof(unsafe.Pointer(nil))]unsafe.Pointer

func pointer(p unsafe.Pointer) ptr64 {
	var v ptr64
	v[0] = p
	return v
}

// mapElemAttr is union bpf_attr as BPF_MAP_LOOKUP_ELEM reads it.
type mapElemAttr struct { // 32 bytes, checked by TestLookupRaw
	mapFD uint32
	_     uint32
	key   ptr64
	value ptr64
	flags uint64
}

// lookupRaw copies the value at key of the array map fd into value, which
// must be the map's value size (the caller checks it once, at load). It
// makes the call raw: a lookup cannot block, and a raw call does not wake
// the runtime's sysmon thread (see timerAlarm), as ebpf.Map.Lookup's does.
func lookupRaw(fd int, key uint32, value unsafe.Pointer) error {
	attr := mapElemAttr{mapFD: uint32(fd), key: pointer(unsafe.Pointer(&key)), value: pointer(value)}
	_, _, errno := unix.RawSyscall(unix.SYS_BPF, unix.BPF_MAP_LOOKUP_ELEM, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(&key)
	if errno != 0 {
		return fmt.Errorf("look up map element %d: %w", key, errno)
	}
	return nil
}
