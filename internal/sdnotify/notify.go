package sdnotify

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends the daemon's notifications. The zero value and a Notifier
// made without NOTIFY_SOCKET do nothing.
type Notifier struct {
	on       bool
	interval time.Duration // watchdog ping interval, 0: no watchdog
	log      *slog.Logger
}

// New reads NOTIFY_SOCKET and WATCHDOG_USEC (WATCHDOG_PID, when set, must
// be this process). The watchdog is pinged at half of WATCHDOG_USEC, as
// sd_watchdog_enabled(3) advises.
func New(log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.Default()
	}
	n := &Notifier{on: os.Getenv("NOTIFY_SOCKET") != "", log: log}
	if !n.on {
		return n
	}
	wd, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("systemd watchdog: ignore its settings", "err", err)
	}
	n.interval = wd / 2
	return n
}

// Enabled says whether a service manager listens.
func (n *Notifier) Enabled() bool { return n != nil && n.on }

// WatchdogInterval is how often Watchdog pings (0: no watchdog asked for).
func (n *Notifier) WatchdogInterval() time.Duration {
	if n == nil {
		return 0
	}
	return n.interval
}

// Ready says start-up is over, with a status line.
func (n *Notifier) Ready(status string) { n.send(daemon.SdNotifyReady, "STATUS="+oneLine(status)) }

// Status sets the unit's status line (systemctl status shows it).
func (n *Notifier) Status(status string) { n.send("STATUS=" + oneLine(status)) }

// Stopping says shutdown has begun.
func (n *Notifier) Stopping(status string) {
	n.send(daemon.SdNotifyStopping, "STATUS="+oneLine(status))
}

// Watchdog pings systemd's watchdog until ctx ends, each ping after check
// returned within one interval; the check's line (or its error) becomes
// the status. It returns at once when no watchdog is asked for.
func (n *Notifier) Watchdog(ctx context.Context, check func(context.Context) (string, error)) {
	if !n.Enabled() || n.interval <= 0 {
		return
	}
	t := time.NewTicker(n.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, n.interval)
		line, err := check(cctx)
		late := cctx.Err() != nil
		cancel()
		if ctx.Err() != nil {
			return
		}
		if late {
			n.log.Warn("systemd watchdog: the liveness check took longer than the ping interval; no ping", "interval", n.interval)
			continue
		}
		if err != nil {
			line = fmt.Sprintf("check failed: %v", err)
		}
		n.send(daemon.SdNotifyWatchdog, "STATUS="+oneLine(line))
	}
}

// send writes one datagram of newline-separated assignments.
func (n *Notifier) send(states ...string) {
	if !n.Enabled() {
		return
	}
	if _, err := daemon.SdNotify(false, strings.Join(states, "\n")); err != nil {
		n.log.Warn("notify systemd", "err", err)
	}
}

// oneLine keeps a status to one line: systemd reads one assignment a line.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
