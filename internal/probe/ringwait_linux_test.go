package probe

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/multilink/multilink/internal/nstest"
)

// TestRingWaiter: a wait returns at once when the ring has data, parks
// while it is empty, and returns os.ErrClosed when the waiter closes
// during it. (Waking on the kernel's events is what every Monitor test
// with replies relies on: without it no reply would reach the tracker.)
func TestRingWaiter(t *testing.T) {
	nstest.RequireAdmin(t)
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: 4096})
	if err != nil {
		t.Skipf("no ring buffer maps here: %v", err)
	}
	defer m.Close()
	rb, err := ringbuf.NewReader(m)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	w, err := newRingWaiter(m)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	if err := w.wait(func() bool { calls++; return true }); err != nil || calls != 1 {
		t.Fatalf("wait with data ready: %v after %d checks, want nil after 1", err, calls)
	}
	done := make(chan error, 1)
	go func() { done <- w.wait(func() bool { return rb.AvailableBytes() > 0 }) }()
	select {
	case err := <-done:
		t.Fatalf("wait on an empty ring returned %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("wait in progress at Close: %v, want os.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the wait")
	}
}
