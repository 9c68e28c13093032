// Package sdnotify tells systemd how the daemon is doing, for a unit of
// Type=notify: READY=1 once the daemon serves, STATUS= lines, WATCHDOG=1
// while a liveness check keeps passing, and STOPPING=1 at shutdown. The
// messages go to the socket systemd names in NOTIFY_SOCKET (through
// github.com/coreos/go-systemd/v22/daemon); without that variable every
// call does nothing, so the daemon runs the same outside systemd.
//
// The watchdog is not a bare ticker: each ping follows a check the caller
// gives (the daemon's health report, which takes the locks its roles
// share), run with a deadline of one ping interval. A daemon stuck on
// those locks stops pinging, and systemd restarts it after WatchdogSec.
// A check that returns an error still proves the process responds; its
// error goes into STATUS= and the ping is sent.
package sdnotify
