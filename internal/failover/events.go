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
	Signal    string        // the evidence that fired (api.Signal...)
	Detection time.Duration // switch: from the first sign of trouble to the decision
	Switch    time.Duration // switch: how long steering the bond took
	// Redundancy: the switch went to the link that had been getting
	// copies of the bond's frames for this long (0: none).
	Redundancy time.Duration
}

// API is e as the API shows it (durations in milliseconds).
func (e Event) API() api.Event {
	out := api.Event{At: e.At, Bond: e.Bond, Kind: e.Kind, From: e.From, To: e.To, Reason: e.Reason, Link: e.Link, State: e.State, Detail: e.Detail, Signal: e.Signal}
	if e.Kind == api.EventSwitch {
		d, s := ms(e.Detection), ms(e.Switch)
		out.DetectionMs, out.SwitchMs = &d, &s
		if e.Redundancy > 0 {
			r := ms(e.Redundancy)
			out.RedundancyMs = &r
		}
	}
	return out
}

// Events is a bounded history of events, oldest dropped first, and the
// watchers that get each new one as it is added.
type Events struct {
	mu       sync.Mutex
	max      int
	list     []Event
	watchers map[*watcher]struct{}
}

// watcher is one Watch: its bond ("" = all), its channel, and whether it
// fell behind.
type watcher struct {
	bond   string
	ch     chan Event
	missed bool
}

// WatchBuffer is how many events a watcher may have waiting: one that
// falls further behind (a stalled client) misses the newer ones and is
// told so; the engine never waits for it.
const WatchBuffer = 64

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
	for w := range h.watchers {
		if w.bond != "" && w.bond != e.Bond {
			continue
		}
		select {
		case w.ch <- e:
		default:
			w.missed = true
		}
	}
}

// Watch returns the events of bond ("" = all) kept so far, at most limit
// of the latest (0 = all), and a channel that gets each one added from
// then on, none lost between the two; stop ends it (the channel is then
// closed). missed reports whether the watcher fell WatchBuffer behind and
// lost events since.
func (h *Events) Watch(bond string, limit int) (past []Event, ch <-chan Event, missed func() bool, stop func()) {
	w := &watcher{bond: bond, ch: make(chan Event, WatchBuffer)}
	h.mu.Lock()
	past = h.listLocked(bond, limit)
	if h.watchers == nil {
		h.watchers = map[*watcher]struct{}{}
	}
	h.watchers[w] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.watchers, w)
			h.mu.Unlock()
			close(w.ch)
		})
	}
	missed = func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return w.missed
	}
	return past, w.ch, missed, stop
}

// List returns the kept events of bond ("" = all), oldest first, at most
// limit of the latest (0 = all kept).
func (h *Events) List(bond string, limit int) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.listLocked(bond, limit)
}

func (h *Events) listLocked(bond string, limit int) []Event {
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
