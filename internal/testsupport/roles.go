package testsupport

import (
	"slices"
	"sync"

	"github.com/multilink/multilink/internal/errkind"
)

// RoleMode is how a fake hub or gateway treats starts and stops.
type RoleMode int

const (
	// Answering fakes keep nothing: every Start and Stop succeeds unless
	// the Recorder fails it, and Status answers what SetStatuses gave
	// (nothing at first). For tests of what reaches a role (the API's).
	Answering RoleMode = iota
	// Tracking fakes keep what runs, as the real roles do: a Start of a
	// running name is errkind.KindConflict, a Stop of one that does not
	// run errkind.KindNotFound, and Status lists the running names unless
	// SetStatuses says otherwise. SetFail and HoldStarts steer the starts.
	// For tests of what drives the roles (the daemon's).
	Tracking
)

// role is what a fake hub and a fake gateway share. C is the body a
// start takes, S the status it answers.
type role[C, S any] struct {
	rec    *Recorder
	kind   string // "hub" or "gateway": the recorded calls' prefix
	mode   RoleMode
	status func(name string) S // a running name's status (Tracking)

	mu       sync.Mutex
	last     C // the body of the latest Start
	running  map[string]bool
	cfgs     map[string]C
	fail     map[string]error
	starts   map[string]int
	entered  chan string
	block    <-chan struct{}
	statuses []S
}

func newRole[C, S any](rec *Recorder, kind string, mode RoleMode, status func(string) S) *role[C, S] {
	if rec == nil {
		rec = &Recorder{}
	}
	return &role[C, S]{rec: rec, kind: kind, mode: mode, status: status, running: map[string]bool{},
		cfgs: map[string]C{}, fail: map[string]error{}, starts: map[string]int{}}
}

// start records a start of name with body c and, when tracking, runs it:
// it counts it, signals and waits as HoldStarts says, fails as SetFail
// says, refuses a running name, and marks name running with c under one
// lock, so that Configs never lists a running name without its body.
func (r *role[C, S]) start(name string, c C) error {
	err := r.rec.Record("%s.Start %s", r.kind, name)
	r.mu.Lock()
	r.last = c
	r.starts[name]++
	entered, block := r.entered, r.block
	r.mu.Unlock()
	if err != nil || r.mode != Tracking {
		return err
	}
	if entered != nil {
		entered <- name
	}
	if block != nil {
		<-block // a start that is past its last cancellation point
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fail[name]; err != nil {
		return err
	}
	if r.running[name] {
		return errkind.Conflict("%s is already started", name)
	}
	r.running[name] = true
	r.cfgs[name] = c
	return nil
}

// stop records a stop of name and, when tracking, ends it.
func (r *role[C, S]) stop(name string) error {
	if err := r.rec.Record("%s.Stop %s", r.kind, name); err != nil || r.mode != Tracking {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running[name] {
		return errkind.NotFound("%s is not started", name)
	}
	delete(r.running, name)
	return nil
}

// list records a status call and answers it.
func (r *role[C, S]) list() []S {
	_ = r.rec.Record("%s.Status", r.kind)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.statuses != nil || r.mode != Tracking {
		return r.statuses
	}
	var out []S
	for _, name := range r.names() {
		out = append(out, r.status(name))
	}
	return out
}

// configs records a Configs call and answers the bodies of what runs.
func (r *role[C, S]) configs() []C {
	_ = r.rec.Record("%s.Configs", r.kind)
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []C
	for _, name := range r.names() {
		out = append(out, r.cfgs[name])
	}
	return out
}

// names are the running names, sorted; r.mu is held.
func (r *role[C, S]) names() []string {
	var out []string
	for name := range r.running {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// LastStart is the body the latest Start was given.
func (r *role[C, S]) LastStart() C {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// SetStatuses makes Status answer s (nil: as the mode has it).
func (r *role[C, S]) SetStatuses(s []S) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = s
}

// SetFail makes the starts of name fail with err (nil: succeed again).
// Tracking only.
func (r *role[C, S]) SetFail(name string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail[name] = err
}

// HoldStarts makes every later start send its name on the channel it
// returns (which holds one) and then wait for block to close before it
// goes on. Tracking only.
func (r *role[C, S]) HoldStarts(block <-chan struct{}) <-chan string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entered, r.block = make(chan string, 1), block
	return r.entered
}

// Running reports whether name runs. Tracking only.
func (r *role[C, S]) Running(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[name]
}

// Starts is how many starts of name were tried.
func (r *role[C, S]) Starts(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.starts[name]
}
