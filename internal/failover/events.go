package failover

import (
	"sync"
	"time"

	"github.com/multilink/multilink/api"
)

// Event is one switch or state change.
type Event struct {
	At        time.Time
	Bond      string
	Kind      string
	From, To  string        // switch
	Reason    string        // switch: ReasonDown, ...
	Link      string        // state
	State     api.LinkState // state
	Detail    string        // why, in words
	Detection time.Duration // switch: from the first sign of trouble to the decision
	Switch    time.Duration // switch: how long steering the bond took
}

// API is e as the API shows it (durations in milliseconds).
func (e Event) API() api.Event {
	out := api.Event{At: e.At, Bond: e.Bond, Kind: e.Kind, From: e.From, To: e.To, Reason: e.Reason, Link: e.Link, State: e.State, Detail: e.Detail}
	if e.Kind == api.EventSwitch {
		d, s := ms(e.Detection), ms(e.Switch)
		out.DetectionMs, out.SwitchMs = &d, &s
	}
	return out
}

// Events is a bounded history of events, oldest dropped first.
type Events struct {
	mu   sync.Mutex
	max  int
	list []Event
}

// NewEvents keeps the last max events.
func NewEvents(max int) *Events {
	if max <= 0 {
		max = api.MaxEvents
	}
	return &Events{max: max}
}

func (h *Events) add(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.list = append(h.list, e)
	if n := len(h.list) - h.max; n > 0 {
		h.list = append(h.list[:0:0], h.list[n:]...)
	}
}

// List returns the kept events of bond ("" = all), oldest first, at most
// limit of the latest (0 = all kept).
func (h *Events) List(bond string, limit int) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Event
	for _, e := range h.list {
		if bond == "" || e.Bond == bond {
			out = append(out, e)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}
