package probe

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// TestLookupRaw: the raw lookup reads what ebpf.Map.Lookup reads, and fails
// as the kernel says for a key out of range.
func TestLookupRaw(t *testing.T) {
	if n := unsafe.Sizeof(mapElemAttr{}); n != 32 {
		t.Fatalf("mapElemAttr is %d bytes, the kernel's lookup attribute 32", n)
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 16, MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want := [2]uint64{0x1122334455667788, 42}
	if err := m.Put(uint32(3), want); err != nil {
		t.Fatal(err)
	}
	var got [2]uint64
	if err := lookupRaw(m.FD(), 3, unsafe.Pointer(&got)); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("raw lookup read %x, want %x", got, want)
	}
	if err := lookupRaw(m.FD(), 4, unsafe.Pointer(&got)); !errors.Is(err, unix.ENOENT) {
		t.Errorf("key out of range: %v, want ENOENT", err)
	}
}
