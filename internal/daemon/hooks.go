package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/multilink/multilink/internal/gateway"
	"github.com/multilink/multilink/internal/notify"
)

// hooksDrain bounds how long a stopping daemon waits for its hooks to
// deliver what they hold; what is left then is dropped (and counted).
const hooksDrain = 5 * time.Second

// runHooks feeds the hooks every bond's events from now on, until ctx
// ends. The gateway never waits for them: its watchers get a buffer, and
// the notifier only queues.
func runHooks(ctx context.Context, hooks *notify.Notifier, gw *gateway.Gateway, log *slog.Logger) {
	if hooks.Len() == 0 {
		return
	}
	hooks.Start(ctx)
	_, events, missed := gw.WatchEvents(ctx, "", 1)
	go func() {
		hooks.Run(ctx, events)
		if missed() {
			log.Warn("hooks: the event stream fell behind, some events were not delivered")
		}
	}()
	log.Info("hooks: delivering events", "hooks", hooks.Len())
}
