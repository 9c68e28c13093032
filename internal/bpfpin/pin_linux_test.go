package bpfpin

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/nstest"
)

func TestCheck(t *testing.T) {
	if err := Check(t.TempDir()); !errors.Is(err, ErrNotBPFFS) {
		t.Errorf("a temporary directory: %v, want ErrNotBPFFS", err)
	}
	if err := Check(filepath.Join(t.TempDir(), "missing")); err == nil || errors.Is(err, ErrNotBPFFS) {
		t.Errorf("a missing directory: %v, want a statfs error", err)
	}
	if err := Check(nstest.BPFFS(t)); err != nil {
		t.Errorf("a bpffs: %v", err)
	}
}

func TestDir(t *testing.T) {
	if d := Dir("/sys/fs/bpf", "ab12"); d != "/sys/fs/bpf/multilink/ab12" {
		t.Errorf("Dir: %s", d)
	}
}

func TestEnsure(t *testing.T) {
	nstest.RequireAdmin(t)
	dir := filepath.Join(t.TempDir(), "bpf")
	mounted, err := Ensure(dir, nil)
	if mounted {
		t.Cleanup(func() {
			if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", dir, err)
			}
		})
	}
	if err != nil || !mounted {
		t.Fatalf("Ensure on a plain directory: mounted %v, %v", mounted, err)
	}
	if err := Check(dir); err != nil {
		t.Fatal(err)
	}
	if mounted, err := Ensure(dir, nil); mounted || err != nil {
		t.Errorf("Ensure on a bpffs: mounted %v, %v; want nothing done", mounted, err)
	}
}

// TestPinOutlivesFDs: a pinned map survives its last fd; RemoveAll unpins
// the tree, and refuses a directory that is not a bpffs.
func TestPinOutlivesFDs(t *testing.T) {
	root := nstest.BPFFS(t)
	dir := filepath.Join(Dir(root, "inst1"), "bond", "maps")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "kept", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	nstest.Require(t, err == nil, "cannot create a bpf map: %v", err)
	if err := m.Put(uint32(0), uint32(42)); err != nil {
		t.Fatal(err)
	}
	pin := filepath.Join(dir, "kept")
	if err := m.Pin(pin); err != nil {
		t.Fatalf("pin: %v", err)
	}
	info, err := m.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	m.Close()

	again, err := ebpf.LoadPinnedMap(pin, nil)
	if err != nil {
		t.Fatalf("reopen the pin after its last fd closed: %v", err)
	}
	var v uint32
	if err := again.Lookup(uint32(0), &v); err != nil || v != 42 {
		t.Errorf("value after reopening: %d %v, want 42", v, err)
	}
	again.Close()

	plain := t.TempDir()
	if err := os.WriteFile(filepath.Join(plain, "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := RemoveAll(plain); !errors.Is(err, ErrNotBPFFS) {
		t.Errorf("RemoveAll on a plain directory: %v, want ErrNotBPFFS", err)
	}
	if _, err := os.Stat(filepath.Join(plain, "f")); err != nil {
		t.Errorf("the refused RemoveAll removed a file: %v", err)
	}

	inst := Dir(root, "inst1")
	if err := RemoveAll(root); err != nil {
		t.Fatalf("RemoveAll of a bpffs root: %v", err)
	}
	if _, err := os.Stat(root); err != nil {
		t.Errorf("the mount point went: %v", err)
	}
	if err := RemoveAll(inst); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(inst); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there: %v", inst, err)
	}
	if err := RemoveAll(inst); err != nil {
		t.Errorf("RemoveAll of a missing dir: %v", err)
	}
	// The map is gone from the kernel with its last reference.
	if m, err := ebpf.NewMapFromID(id); err == nil {
		m.Close()
		t.Errorf("map %d still exists after its pin was removed", id)
	}
}
