package notify

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/config"
)

// fake is a deliverer whose answer the test decides.
type fake struct {
	mu       sync.Mutex
	got      []api.Event
	attempts atomic.Int32
	answer   func(ctx context.Context, attempt int) error // nil: success
	started  chan struct{}                                // gets a token at each attempt, if set
}

func (f *fake) deliver(ctx context.Context, _ []byte, e api.Event) error {
	n := int(f.attempts.Add(1))
	if f.started != nil {
		f.started <- struct{}{}
	}
	var err error
	if f.answer != nil {
		err = f.answer(ctx, n)
	}
	if err == nil {
		f.mu.Lock()
		f.got = append(f.got, e)
		f.mu.Unlock()
	}
	return err
}

func (f *fake) delivered() []api.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Event(nil), f.got...)
}

// hang blocks until the attempt's context ends.
func hang(ctx context.Context, _ int) error {
	<-ctx.Done()
	return ctx.Err()
}

func ptr[T any](v T) *T { return &v }

// testNotifier is a notifier over fakes with millisecond backoff.
func testNotifier(t *testing.T, hooks map[*fake]config.Hook) *Notifier {
	t.Helper()
	n := newNotifier(Options{RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond})
	for f, h := range hooks {
		n.add(h, f)
	}
	n.Start(t.Context())
	t.Cleanup(func() { n.Close(time.Second) })
	return n
}

func count(n *Notifier, hook, result string) int {
	return int(testutil.ToFloat64(n.metrics.deliveries.WithLabelValues(hook, result)))
}

// eventually polls cond every 5 ms for up to 10 s (a generous bound, not a
// timing claim).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("not within 10 s: %s", what)
}

func switchEvent(to string) api.Event {
	return api.Event{At: time.Now(), Bond: "bond0", Kind: api.EventSwitch, From: "tap1", To: to, Reason: "down"}
}

func TestRetriesThenOK(t *testing.T) {
	f := &fake{answer: func(_ context.Context, n int) error {
		if n < 3 {
			return errors.New("not yet")
		}
		return nil
	}}
	n := testNotifier(t, map[*fake]config.Hook{f: {Name: "h", Retries: ptr(3)}})
	n.Notify(switchEvent("tap2"))
	eventually(t, "delivered", func() bool { return count(n, "h", ResultOK) == 1 })
	if got := f.attempts.Load(); got != 3 {
		t.Errorf("%d attempts, want 3", got)
	}
	if got := testutil.ToFloat64(n.metrics.retries.WithLabelValues("h")); got != 2 {
		t.Errorf("retries metric %v, want 2", got)
	}
	if got := f.delivered(); len(got) != 1 || got[0].To != "tap2" {
		t.Errorf("delivered %+v", got)
	}
}

func TestFailsAfterRetries(t *testing.T) {
	f := &fake{answer: func(context.Context, int) error { return errors.New("down") }}
	n := testNotifier(t, map[*fake]config.Hook{f: {Name: "h", Retries: ptr(2)}})
	n.Notify(switchEvent("tap2"))
	eventually(t, "failed", func() bool { return count(n, "h", ResultFailed) == 1 })
	if got := f.attempts.Load(); got != 3 {
		t.Errorf("%d attempts, want 1 + 2 retries", got)
	}
}

func TestPermanentNotRetried(t *testing.T) {
	f := &fake{answer: func(context.Context, int) error { return backoff.Permanent(errors.New("400")) }}
	n := testNotifier(t, map[*fake]config.Hook{f: {Name: "h", Retries: ptr(5)}})
	n.Notify(switchEvent("tap2"))
	eventually(t, "failed", func() bool { return count(n, "h", ResultFailed) == 1 })
	if got := f.attempts.Load(); got != 1 {
		t.Errorf("%d attempts, want 1", got)
	}
}

// Each attempt ends at the hook's timeout, and the hook's hanging does not
// hold up another hook.
func TestTimeoutAndIsolation(t *testing.T) {
	stuck := &fake{answer: hang}
	quick := &fake{}
	n := testNotifier(t, map[*fake]config.Hook{
		stuck: {Name: "stuck", TimeoutMs: 20, Retries: ptr(1)},
		quick: {Name: "quick"},
	})
	for _, to := range []string{"tap2", "tap1", "tap2"} {
		n.Notify(switchEvent(to))
	}
	eventually(t, "quick got all three", func() bool { return count(n, "quick", ResultOK) == 3 })
	eventually(t, "stuck failed all three", func() bool { return count(n, "stuck", ResultFailed) == 3 })
	if got := stuck.attempts.Load(); got != 6 {
		t.Errorf("stuck: %d attempts, want 3 events x 2", got)
	}
}

// A full queue drops its oldest event and counts it; the newest survive.
func TestQueueFullDropsOldest(t *testing.T) {
	release := make(chan struct{})
	f := &fake{started: make(chan struct{}, 16), answer: func(ctx context.Context, n int) error {
		if n == 1 {
			<-release
		}
		return nil
	}}
	n := testNotifier(t, map[*fake]config.Hook{f: {Name: "h", QueueSize: 2}})
	n.Notify(switchEvent("e0"))
	<-f.started // e0 in flight, the queue empty
	for _, to := range []string{"e1", "e2", "e3", "e4"} {
		n.Notify(switchEvent(to))
	}
	if got := count(n, "h", ResultDropped); got != 2 {
		t.Errorf("dropped %d, want 2", got)
	}
	if got := testutil.ToFloat64(n.metrics.queued.WithLabelValues("h")); got != 2 {
		t.Errorf("queue length %v, want 2", got)
	}
	close(release)
	eventually(t, "the rest delivered", func() bool { return count(n, "h", ResultOK) == 3 })
	var tos []string
	for _, e := range f.delivered() {
		tos = append(tos, e.To)
	}
	if want := []string{"e0", "e3", "e4"}; !equal(tos, want) {
		t.Errorf("delivered %v, want %v", tos, want)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEventsFilter(t *testing.T) {
	f := &fake{}
	n := testNotifier(t, map[*fake]config.Hook{f: {Name: "h", Events: []string{api.EventState}}})
	n.Notify(switchEvent("tap2"))
	n.Notify(api.Event{Bond: "bond0", Kind: api.EventState, Link: "tap1", State: "down"})
	eventually(t, "state delivered", func() bool { return count(n, "h", ResultOK) == 1 })
	n.Close(time.Second)
	if got := f.delivered(); len(got) != 1 || got[0].Kind != api.EventState {
		t.Errorf("delivered %+v, want the state change only", got)
	}
}

// Close waits for the queue to drain within its bound.
func TestCloseDrains(t *testing.T) {
	f := &fake{}
	n := testNotifier(t, map[*fake]config.Hook{f: {Name: "h"}})
	for _, to := range []string{"a", "b", "c"} {
		n.Notify(switchEvent(to))
	}
	n.Close(10 * time.Second)
	if got := count(n, "h", ResultOK); got != 3 {
		t.Errorf("ok %d after Close, want 3", got)
	}
	n.Notify(switchEvent("late"))
	if got := count(n, "h", ResultDropped); got != 1 {
		t.Errorf("an event after Close: dropped %d, want 1", got)
	}
}

// Close ends a hanging hook at its bound: the attempt in flight and the
// queued events count as dropped.
func TestCloseEndsHangingHook(t *testing.T) {
	f := &fake{started: make(chan struct{}, 16), answer: hang}
	n := testNotifier(t, map[*fake]config.Hook{f: {Name: "h", TimeoutMs: 600_000}})
	n.Notify(switchEvent("a"))
	<-f.started
	n.Notify(switchEvent("b"))
	n.Notify(switchEvent("c"))
	done := make(chan struct{})
	go func() {
		n.Close(10 * time.Millisecond)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the hanging hook")
	}
	if got := count(n, "h", ResultDropped); got != 3 {
		t.Errorf("dropped %d, want 3 (one in flight, two queued)", got)
	}
	if got := count(n, "h", ResultFailed) + count(n, "h", ResultOK); got != 0 {
		t.Errorf("%d ok or failed, want none", got)
	}
}

// The metrics as /metrics shows them after one delivery that needed a
// retry and one event dropped at Close.
func TestMetrics(t *testing.T) {
	f := &fake{answer: func(_ context.Context, n int) error {
		if n == 1 {
			return errors.New("once")
		}
		return nil
	}}
	n := testNotifier(t, map[*fake]config.Hook{f: {Name: "h"}})
	n.Notify(switchEvent("tap2"))
	eventually(t, "delivered", func() bool { return count(n, "h", ResultOK) == 1 })
	n.Close(time.Second)
	n.Notify(switchEvent("late"))
	want := `
# HELP multilink_hook_deliveries_total Events handed to each hook, by result: ok, failed (every attempt failed), dropped (a full queue, or shutdown).
# TYPE multilink_hook_deliveries_total counter
multilink_hook_deliveries_total{hook="h",result="dropped"} 1
multilink_hook_deliveries_total{hook="h",result="failed"} 0
multilink_hook_deliveries_total{hook="h",result="ok"} 1
# HELP multilink_hook_in_flight 1 while a hook's delivery (attempts and the waits between them) runs.
# TYPE multilink_hook_in_flight gauge
multilink_hook_in_flight{hook="h"} 0
# HELP multilink_hook_queue_length Events waiting for each hook.
# TYPE multilink_hook_queue_length gauge
multilink_hook_queue_length{hook="h"} 0
# HELP multilink_hook_retries_total Attempts of each hook that failed and were tried again.
# TYPE multilink_hook_retries_total counter
multilink_hook_retries_total{hook="h"} 1
`
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(n.Collectors()...)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
