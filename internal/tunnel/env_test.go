package tunnel

import (
	"slices"
	"testing"
)

func TestChildEnvDropsNotify(t *testing.T) {
	in := []string{"PATH=/usr/bin", "NOTIFY_SOCKET=/run/systemd/notify", "WATCHDOG_USEC=30000000", "WATCHDOG_PID=1", "NOTIFY_SOCKETX=kept", "LANG=C"}
	if got, want := childEnv(in), []string{"PATH=/usr/bin", "NOTIFY_SOCKETX=kept", "LANG=C"}; !slices.Equal(got, want) {
		t.Errorf("childEnv = %q, want %q", got, want)
	}
}
