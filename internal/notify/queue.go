package notify

import (
	"sync"

	"github.com/multilink/multilink/api"
)

// queue is a bounded FIFO of events for one hook. A push to a full queue
// drops the oldest event: the newest says where the bond is now, which is
// what a receiver acts on.
type queue struct {
	mu     sync.Mutex
	items  []api.Event
	max    int
	closed bool
	ready  chan struct{} // has a token while items or closed may be news
}

func newQueue(max int) *queue {
	return &queue{max: max, ready: make(chan struct{}, 1)}
}

// push adds e; it reports whether an older event was dropped for it, and
// false for ok when the queue is closed (e is not added).
func (q *queue) push(e api.Event) (dropped, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false, false
	}
	if len(q.items) == q.max {
		q.items = append(q.items[:0], q.items[1:]...)
		dropped = true
	}
	q.items = append(q.items, e)
	q.wake()
	return dropped, true
}

// pop takes the oldest event, waiting for one until the queue is closed
// and empty (ok false) or stop is closed (ok false).
func (q *queue) pop(stop <-chan struct{}) (api.Event, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			e := q.items[0]
			q.items = q.items[1:]
			q.mu.Unlock()
			return e, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return api.Event{}, false
		}
		select {
		case <-q.ready:
		case <-stop:
			return api.Event{}, false
		}
	}
}

// close refuses further pushes; pop returns what is queued, then false.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.wake()
}

// drain empties the queue and returns how many events it held.
func (q *queue) drain() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.items)
	q.items = nil
	return n
}

// len is how many events wait.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// wake leaves a token for a waiting pop; q.mu is held.
func (q *queue) wake() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}
