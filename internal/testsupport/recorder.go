package testsupport

import (
	"fmt"
	"sync"
)

// Recorder collects, in order, the calls a set of fakes get, one line
// each ("hub.Start br0"), and makes them fail or panic as told. Set Err
// and Panics before the calls they are for; the other methods may be
// called concurrently.
type Recorder struct {
	// Err, when set, is what every recorded call that can fail returns.
	Err error
	// Panics makes every recorded call panic.
	Panics bool

	mu    sync.Mutex
	calls []string
}

// Record records a call and returns Err; it panics if Panics is set.
func (r *Recorder) Record(format string, args ...any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
	if r.Panics {
		panic("fake panics as told")
	}
	return r.Err
}

// Calls is a copy of the calls recorded so far, in order.
func (r *Recorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// Reset forgets the calls recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
}
