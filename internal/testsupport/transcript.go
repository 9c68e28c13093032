package testsupport

import (
	"errors"
	"strings"
	"sync"
)

// Transcript is the ordered record of the changes fakes are asked for,
// one line each, so a test can compare what was done, in order, with what
// it wants. Fakes that share one (a FakeNetlink and a package's own fake
// tunnels or bond driver) interleave their lines. A change whose line
// starts with the prefix FailOn names fails, and is recorded all the same.
// Its methods may be called concurrently.
type Transcript struct {
	mu     sync.Mutex
	ops    []string
	failOn string
}

// Do records op and fails it, with an "injected failure" error, if it
// starts with the prefix FailOn names.
func (t *Transcript) Do(op string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ops = append(t.ops, op)
	if t.failOn != "" && strings.HasPrefix(op, t.failOn) {
		return errors.New("injected failure")
	}
	return nil
}

// Note records op, a change that cannot fail.
func (t *Transcript) Note(op string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ops = append(t.ops, op)
}

// FailOn makes every later change whose line starts with prefix fail (""
// for none).
func (t *Transcript) FailOn(prefix string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failOn = prefix
}

// Ops is a copy of the lines recorded so far, in order.
func (t *Transcript) Ops() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.ops...)
}
