package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/config"
	"github.com/multilink/multilink/internal/errkind"
)

// Backoff between the attempts of one event: exponential from
// RetryInitial (doubling, at most RetryMax), each wait drawn at random
// within ±50 % so that gateways told of one hub's trouble do not retry in
// step.
const (
	DefaultRetryInitial = time.Second
	DefaultRetryMax     = 30 * time.Second
	jitter              = 0.5
)

// deliverer makes one attempt at telling a hook of an event.
type deliverer interface {
	deliver(ctx context.Context, body []byte, e api.Event) error
}

// Options configure a Notifier.
type Options struct {
	Hooks  []config.Hook // checked (config.ParseFile)
	Logger *slog.Logger
	// RetryInitial and RetryMax bound the backoff (0: the defaults).
	RetryInitial, RetryMax time.Duration
}

// Notifier delivers events to the hooks.
type Notifier struct {
	hooks   []*hook
	log     *slog.Logger
	metrics *metrics
	wg      sync.WaitGroup
	stop    chan struct{} // closed: workers stop waiting, attempts end
	once    sync.Once
	// ctx ends every attempt and backoff wait when Close gives up.
	ctx                    context.Context
	cancel                 context.CancelFunc
	retryInitial, retryMax time.Duration
}

// hook is one configured hook: its queue and how it delivers.
type hook struct {
	cfg   config.Hook
	queue *queue
	d     deliverer
}

// New builds the hooks: reads their token and CA files and checks their
// programs exist, with errors that name the setting ("hooks[1].exec[0]").
// It starts nothing; Start does.
func New(o Options) (*Notifier, error) {
	n := newNotifier(o)
	for i, h := range o.Hooks {
		var d deliverer
		switch {
		case h.Webhook != nil:
			w, err := newWebhook(*h.Webhook)
			if err != nil {
				return nil, api.Prefix(fmt.Sprintf("hooks[%d].webhook", i), err)
			}
			d = w
		default:
			if err := checkProgram(h.Exec[0]); err != nil {
				return nil, errkind.Invalid(fmt.Sprintf("hooks[%d].exec[0]", i), "%v", err)
			}
			d = program{argv: h.Exec}
		}
		n.add(h, d)
	}
	return n, nil
}

func newNotifier(o Options) *Notifier {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{log: log.With("component", "hooks"), metrics: newMetrics(), stop: make(chan struct{}), ctx: ctx, cancel: cancel}
	n.retryInitial, n.retryMax = o.RetryInitial, o.RetryMax
	if n.retryInitial <= 0 {
		n.retryInitial = DefaultRetryInitial
	}
	if n.retryMax <= 0 {
		n.retryMax = DefaultRetryMax
	}
	return n
}

func (n *Notifier) add(cfg config.Hook, d deliverer) {
	n.hooks = append(n.hooks, &hook{cfg: cfg, queue: newQueue(cfg.Queue()), d: d})
	n.metrics.init(cfg.Name)
}

// Len is how many hooks there are.
func (n *Notifier) Len() int { return len(n.hooks) }

// Collectors are the hooks' metrics.
func (n *Notifier) Collectors() []prometheus.Collector { return n.metrics.collectors() }

// Start runs one worker per hook until Close. The attempts run under
// ctx's values but not its end: a stopping daemon's hooks get Close's
// bound to drain, and Close ends them.
func (n *Notifier) Start(ctx context.Context) {
	n.ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, h := range n.hooks {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.work(h)
		}()
	}
}

// Notify queues e for every hook that wants its kind; it never waits.
func (n *Notifier) Notify(e api.Event) {
	for _, h := range n.hooks {
		if !h.cfg.Wants(e.Kind) {
			continue
		}
		dropped, ok := h.queue.push(e)
		if !ok {
			n.metrics.deliveries.WithLabelValues(h.cfg.Name, ResultDropped).Inc()
			continue
		}
		if dropped {
			n.metrics.deliveries.WithLabelValues(h.cfg.Name, ResultDropped).Inc()
			n.log.Warn("hook queue full: dropped its oldest event", "hook", h.cfg.Name, "queue_size", h.cfg.Queue())
		}
		n.metrics.queued.WithLabelValues(h.cfg.Name).Set(float64(h.queue.len()))
	}
}

// Run feeds the notifier events until ctx ends or events is closed.
func (n *Notifier) Run(ctx context.Context, events <-chan api.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-events:
			if !ok {
				return
			}
			n.Notify(e)
		}
	}
}

// Close stops taking events and gives the queued ones until within to be
// delivered; then it ends the attempts still running and drops what is
// left (counted as dropped). It returns when every worker has ended.
func (n *Notifier) Close(within time.Duration) {
	n.once.Do(func() {
		for _, h := range n.hooks {
			h.queue.close()
		}
		done := make(chan struct{})
		go func() {
			n.wg.Wait()
			close(done)
		}()
		t := time.NewTimer(within)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			n.log.Warn("hooks still busy at shutdown: ending them", "within", within)
			close(n.stop)
			n.cancel()
			<-done
		}
		n.cancel()
		for _, h := range n.hooks {
			if k := h.queue.drain(); k > 0 {
				n.metrics.deliveries.WithLabelValues(h.cfg.Name, ResultDropped).Add(float64(k))
			}
			n.metrics.queued.WithLabelValues(h.cfg.Name).Set(0)
			if w, ok := h.d.(*webhook); ok {
				w.close()
			}
		}
	})
}

// work delivers h's events one at a time until its queue is closed and
// empty, or the notifier stops.
func (n *Notifier) work(h *hook) {
	name := h.cfg.Name
	for {
		e, ok := h.queue.pop(n.stop)
		if !ok {
			return
		}
		n.metrics.queued.WithLabelValues(name).Set(float64(h.queue.len()))
		if n.ctx.Err() != nil {
			n.metrics.deliveries.WithLabelValues(name, ResultDropped).Inc()
			continue
		}
		n.metrics.inFlight.WithLabelValues(name).Set(1)
		err := n.deliver(h, e)
		n.metrics.inFlight.WithLabelValues(name).Set(0)
		switch {
		case err == nil:
			n.metrics.deliveries.WithLabelValues(name, ResultOK).Inc()
		case n.ctx.Err() != nil:
			n.metrics.deliveries.WithLabelValues(name, ResultDropped).Inc()
		default:
			n.metrics.deliveries.WithLabelValues(name, ResultFailed).Inc()
			n.log.Warn("hook failed", "hook", name, "event", e.Kind, "bond", e.Bond, "max_tries", h.cfg.Tries(), "err", err)
		}
	}
}

// deliver makes up to h's tries attempts at e, each under h's timeout,
// with backoff between them.
func (n *Notifier) deliver(h *hook, e api.Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	b := &backoff.ExponentialBackOff{InitialInterval: n.retryInitial, RandomizationFactor: jitter, Multiplier: 2, MaxInterval: n.retryMax}
	attempt := func() (struct{}, error) {
		ctx, cancel := context.WithTimeout(n.ctx, h.cfg.Timeout())
		defer cancel()
		return struct{}{}, h.d.deliver(ctx, body, e)
	}
	retried := func(err error, wait time.Duration) {
		n.metrics.retries.WithLabelValues(h.cfg.Name).Inc()
		n.log.Debug("hook attempt failed: trying again", "hook", h.cfg.Name, "in", wait, "err", err)
	}
	_, err = backoff.Retry(n.ctx, attempt, backoff.WithBackOff(b), backoff.WithMaxTries(uint(h.cfg.Tries())),
		backoff.WithMaxElapsedTime(0), backoff.WithNotify(retried))
	return err
}
