package failover

import (
	"context"
	"log/slog"
	"sort"
	"sync"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/probe"
)

// Source delivers probe samples; probe.Monitor has it.
type Source interface {
	Subscribe(buf int) (<-chan probe.Sample, func())
}

// Manager runs one Engine per bond and feeds each its links' samples.
type Manager struct {
	events *Events
	log    *slog.Logger

	mu      sync.Mutex
	engines map[string]*running
	cancel  func()
	done    chan struct{}
}

type running struct {
	*Engine
	cancel context.CancelFunc
	done   chan struct{}
}

// NewManager subscribes to src and routes its samples until Close.
func NewManager(src Source, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{events: NewEvents(api.MaxEvents), log: log.With("component", "failover"),
		engines: map[string]*running{}, done: make(chan struct{})}
	ch, cancel := src.Subscribe(4096)
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for s := range ch {
			m.mu.Lock()
			r := m.engines[s.Bond]
			m.mu.Unlock()
			if r != nil {
				r.Sample(s)
			}
		}
	}()
	return m
}

// Add starts deciding for a bond.
func (m *Manager) Add(ctx context.Context, o EngineOptions) error {
	if err := o.Policy.Check(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.engines[o.Bond]; ok {
		return errkind.Conflict("bond %s has a failover engine already", o.Bond)
	}
	o.Events = m.events
	if o.Logger == nil {
		o.Logger = m.log
	}
	e := NewEngine(o)
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &running{Engine: e, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		e.Run(ctx)
	}()
	m.engines[o.Bond] = r
	return nil
}

// Remove stops deciding for a bond (before it is taken down).
func (m *Manager) Remove(bond string) {
	m.mu.Lock()
	r := m.engines[bond]
	delete(m.engines, bond)
	m.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
	}
}

// Engine returns a bond's engine.
func (m *Manager) Engine(bond string) (*Engine, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.engines[bond]
	if !ok {
		return nil, false
	}
	return r.Engine, true
}

// Statuses returns every bond's failover state, by bond name.
func (m *Manager) Statuses() []api.FailoverStatus {
	m.mu.Lock()
	es := make([]*Engine, 0, len(m.engines))
	for _, r := range m.engines {
		es = append(es, r.Engine)
	}
	m.mu.Unlock()
	out := make([]api.FailoverStatus, 0, len(es))
	for _, e := range es {
		out = append(out, e.Status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Bond < out[j].Bond })
	return out
}

// Events is the event history of every bond.
func (m *Manager) Events() *Events { return m.events }

// Close stops every engine and the routing.
func (m *Manager) Close() {
	m.mu.Lock()
	bonds := make([]string, 0, len(m.engines))
	for b := range m.engines {
		bonds = append(bonds, b)
	}
	m.mu.Unlock()
	for _, b := range bonds {
		m.Remove(b)
	}
	m.cancel()
	<-m.done
}
