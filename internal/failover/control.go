package failover

import (
	"slices"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// Status returns the bond's failover state.
func (e *Engine) Status() api.FailoverStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := api.FailoverStatus{Bond: e.bond, Active: e.active, Pin: e.pin, Priority: slices.Clone(e.order()),
		Failovers: map[string]uint64{}, Policy: viewOf(e.pol), OnlyWhenNeeded: slices.Clone(e.onlyNeeded), Duplicating: e.dup}
	for i, l := range st.Priority {
		j := e.judges[l]
		st.Links = append(st.Links, api.FailoverLink{Link: l, Priority: i + 1, State: j.state, Reason: j.reason, Since: j.since})
	}
	for r, n := range e.failovers {
		st.Failovers[r] = n
	}
	return st
}

// Update is a change of a bond's policy: nil fields stay as they are.
type Update struct {
	Policy   *Policy
	Pin      *string   // "" releases the pin
	Priority *[]string // empty: back to the primary first, then slave order
	Primary  *string   // the bond's configured primary changed
	// OnlyWhenNeeded: links never sent copies of the bond's frames (empty:
	// none).
	OnlyWhenNeeded *[]string
}

// Apply validates u against the bond and applies it; an invalid update
// changes nothing.
func (e *Engine) Apply(u Update) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.check(u); err != nil {
		return err
	}
	if u.Policy != nil {
		e.pol = *u.Policy
	}
	if u.Pin != nil {
		e.manual = e.manual || *u.Pin != e.pin
		e.pin = *u.Pin
	}
	if u.Priority != nil {
		e.priority = slices.Clone(*u.Priority)
		e.manual = true
	}
	if u.Primary != nil {
		e.primary = *u.Primary
		e.manual = true
	}
	if u.OnlyWhenNeeded != nil {
		e.onlyNeeded = slices.Clone(*u.OnlyWhenNeeded)
	}
	e.poke()
	return nil
}

// Check validates u against the bond without applying it.
func (e *Engine) Check(u Update) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.check(u)
}

func (e *Engine) check(u Update) error {
	if u.Policy != nil {
		if err := u.Policy.Check(); err != nil {
			return err
		}
	}
	if u.Pin != nil && *u.Pin != "" && !slices.Contains(e.links, *u.Pin) {
		return errkind.Invalid("pin", "%s is not a link of %s (links: %v)", *u.Pin, e.bond, e.links)
	}
	if u.Priority != nil && len(*u.Priority) > 0 {
		p := *u.Priority
		if len(p) != len(e.links) {
			return errkind.Invalid("priority", "must list each of %v once, got %v", e.links, p)
		}
		for i, l := range p {
			if !slices.Contains(e.links, l) || slices.Index(p, l) != i {
				return errkind.Invalid("priority", "must list each of %v once, got %v", e.links, p)
			}
		}
	}
	if u.Primary != nil && *u.Primary != "" && !slices.Contains(e.links, *u.Primary) {
		return errkind.Invalid("primary", "%s is not a link of %s", *u.Primary, e.bond)
	}
	if u.OnlyWhenNeeded != nil {
		for i, l := range *u.OnlyWhenNeeded {
			if !slices.Contains(e.links, l) || slices.Index(*u.OnlyWhenNeeded, l) != i {
				return errkind.Invalid("only_when_needed", "must list links of %s (%v) at most once each, got %v", e.bond, e.links, *u.OnlyWhenNeeded)
			}
		}
	}
	return nil
}

// Policy returns the bond's policy.
func (e *Engine) Policy() Policy {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pol
}

// Watch probes link at the active rate (on), or gives it back the rate
// its rank gives it: for a caller that waits for a renewed link to prove
// itself, which at the standby rate takes minutes.
func (e *Engine) Watch(link string, on bool) {
	e.mu.Lock()
	if on {
		e.watched[link] = true
	} else {
		delete(e.watched, link)
	}
	e.mu.Unlock()
	e.poke() // the engine's loop sets the rates
}
