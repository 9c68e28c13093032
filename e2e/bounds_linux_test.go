package e2e

import (
	"time"

	"github.com/multilink/multilink/internal/nstest"
)

// The kernel lab emulates its CPUs (QEMU TCG) and runs every step several
// times slower than this machine: a bound on how soon something heals is
// the figure on the host and a wider one there, where the figure
// is logged rather than judged.

// hostOrLab is host on this machine and lab in the kernel lab.
func hostOrLab(host, lab time.Duration) time.Duration {
	if nstest.InLab() {
		return lab
	}
	return host
}

// healBound is how soon after a crashed daemon's restart the bond must
// carry traffic again: the crash-safety issue's 5 s on the host.
func healBound() time.Duration { return hostOrLab(5*time.Second, 20*time.Second) }

// chaosHeal bounds a killed OpenVPN's link coming back: the supervisor's
// restart, the new session, the engine's hold-down.
func chaosHeal() time.Duration { return hostOrLab(20*time.Second, 40*time.Second) }
