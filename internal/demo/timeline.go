package demo

import (
	"time"

	"github.com/multilink/multilink/internal/impairment"
)

// action is what a step does to the primary link (index 0).
type action func(l impairer) error

// impairer is the part of an emulated link the timeline uses.
type impairer interface {
	Set(d impairment.Direction, im impairment.Impairment) error
	Cut(cut bool)
}

// step is one entry of the timeline.
type step struct {
	name   string
	do     action
	expect string        // the link traffic must end on
	within time.Duration // ... within this
	hold   time.Duration // then stay this long before the next step
}

// timeline is the demo's story: the primary (tap1, link u1) is cut, comes
// back, gets slow, comes back, gets lossy, comes back. The failover engine
// must leave it each time and return only after its hold-down.
func timeline() []step {
	clear := func(l impairer) error {
		l.Cut(false)
		for _, d := range []impairment.Direction{impairment.AtoB, impairment.BtoA} {
			if err := l.Set(d, impairment.Impairment{}); err != nil {
				return err
			}
		}
		return nil
	}
	return []step{
		{name: "cut the primary", expect: "tap2", within: 10 * time.Second, hold: 3 * time.Second,
			do: func(l impairer) error { l.Cut(true); return nil }},
		{name: "restore the primary", expect: "tap1", within: 30 * time.Second, hold: 2 * time.Second, do: clear},
		{name: "degrade: +300 ms delay", expect: "tap2", within: 10 * time.Second, hold: 3 * time.Second,
			do: func(l impairer) error {
				// 150 ms each way: the round trip grows by 300 ms.
				im := impairment.Impairment{Delay: 150 * time.Millisecond}
				if err := l.Set(impairment.AtoB, im); err != nil {
					return err
				}
				return l.Set(impairment.BtoA, im)
			}},
		{name: "restore the primary", expect: "tap1", within: 30 * time.Second, hold: 2 * time.Second, do: clear},
		{name: "degrade: 30% loss", expect: "tap2", within: 10 * time.Second, hold: 3 * time.Second,
			do: func(l impairer) error {
				// Hub to gateway: every reply the gateway waits for may be lost.
				return l.Set(impairment.BtoA, impairment.Impairment{Loss: 0.3})
			}},
		{name: "restore the primary", expect: "tap1", within: 30 * time.Second, hold: 2 * time.Second, do: clear},
	}
}
