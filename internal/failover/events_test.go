package failover

import (
	"testing"
	"time"
)

// TestEventsWatch: a watcher gets the kept events of its bond, then each
// new one of its bond and no other; one that falls WatchBuffer behind is
// told it missed some; stop closes its channel.
func TestEventsWatch(t *testing.T) {
	h := NewEvents(10)
	h.add(Event{Bond: "bond0", Link: "old0"})
	h.add(Event{Bond: "bond1", Link: "old1"})
	past, ch, missed, stop := h.Watch("bond0", 0)
	if len(past) != 1 || past[0].Link != "old0" {
		t.Fatalf("past %+v, want bond0's one event", past)
	}
	h.add(Event{Bond: "bond1", Link: "other"})
	h.add(Event{Bond: "bond0", Link: "new"})
	select {
	case e := <-ch:
		if e.Link != "new" {
			t.Errorf("got %+v, want bond0's new event (bond1's is not its)", e)
		}
	case <-time.After(time.Second):
		t.Fatal("no event delivered")
	}
	if missed() {
		t.Error("missed before falling behind")
	}
	for range WatchBuffer + 1 {
		h.add(Event{Bond: "bond0"})
	}
	if !missed() {
		t.Errorf("a watcher %d events behind is not told it missed some", WatchBuffer+1)
	}
	stop()
	stop() // twice is harmless
	n := 0
	for range ch {
		n++
	}
	if n != WatchBuffer {
		t.Errorf("%d events left in the closed channel, want the %d buffered", n, WatchBuffer)
	}
	h.add(Event{Bond: "bond0"}) // no watcher: no send on the closed channel
}
