package daemon

import (
	"context"
	"fmt"
	"strings"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/sdnotify"
)

// notifyReady tells systemd (a Type=notify unit) that the daemon serves:
// it is called once the API listens, which is after the desired state was
// restored, each entry started or marked pending (a hub that does not
// answer fails a start within the key fetch's timeout; the retries run
// behind). It then pings the watchdog after each health report until ctx
// ends, and says STOPPING=1 when it does. Without NOTIFY_SOCKET it does
// nothing.
func notifyReady(ctx context.Context, n *sdnotify.Notifier, h health, keep Keep) {
	if !n.Enabled() {
		return
	}
	n.Ready(statusLine(h.Health(ctx)))
	go n.Watchdog(ctx, func(ctx context.Context) (string, error) { return statusLine(h.Health(ctx)), nil })
	go func() {
		<-ctx.Done()
		n.Stopping(stoppingText(keep))
	}()
}

// statusLine sums a health report up in one line for systemctl status:
// "degraded: 0 servers, 1 client; not ok: client/bond0".
func statusLine(rep api.HealthReport) string {
	var servers, clients int
	var bad []string
	for _, c := range rep.Checks {
		switch {
		case strings.HasPrefix(c.Name, "server/"):
			servers++
		case strings.HasPrefix(c.Name, "client/"):
			clients++
		}
		if !c.OK {
			bad = append(bad, c.Name)
		}
	}
	line := fmt.Sprintf("%s: %s, %s", rep.Status, plural(servers, "server"), plural(clients, "client"))
	if len(bad) > 0 {
		line += "; not ok: " + strings.Join(bad, ", ")
	}
	return line
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// stoppingText is the STATUS= line sent with STOPPING=1.
func stoppingText(keep Keep) string {
	if keep == KeepNone {
		return "stopping: removing the bridges, bonds and tunnels this daemon made"
	}
	return "stopping: the data plane stays for the next start (multilink purge removes it)"
}
