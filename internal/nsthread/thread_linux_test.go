package nsthread

import (
	"os"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TestNeverMainThread: however often In runs, the main thread never ends
// up inside the namespace (it is what /proc/<pid>/ns/net shows).
func TestNeverMainThread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to create a network namespace")
	}
	var ns netns.NsHandle
	err := In(netns.None(), func() error {
		var err error
		ns, err = netns.New() // leaves this (discarded) thread in ns
		return err
	})
	if err != nil {
		t.Fatalf("new netns: %v", err)
	}
	defer ns.Close()
	mainNS, err := netns.GetFromPath("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer mainNS.Close()
	for i := 0; i < 200; i++ {
		var tid int
		if err := In(ns, func() error { tid = unix.Gettid(); return nil }); err != nil {
			t.Fatal(err)
		}
		if tid == unix.Getpid() {
			t.Fatalf("run %d: fn ran on the main thread", i)
		}
	}
	now, err := netns.GetFromPath("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer now.Close()
	if !now.Equal(mainNS) {
		t.Error("the main thread's namespace changed")
	}
}
