package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// TestRekeyIsNotAnOutage (chaos): TLS tunnels renegotiating their data
// channel keys every 10 s (--tunnel-rekey 10s on the hub) while an
// echo stream runs each way: over 25 s both links renegotiate at least
// twice, no link changes state and traffic never leaves tap1 (no
// engine event at all); echoes lost are reported. A renegotiation keeps the old keys until the new ones
// work: it must never look like a dead link.
//
// Kernel-agnostic (OpenVPN's renegotiation and the engine's judgement):
// on the host only.
func TestRekeyIsNotAnOutage(t *testing.T) {
	nstest.HostOnly(t)
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			tp := newTopology(t)
			hub, gw := scenarioArgs(t, tp, specServerBody(t), specClientBody(t), driver, []string{"--tunnel-rekey", "10s"})
			waitSettled(t, gw)
			waitActive(t, gw, "tap1", 10*time.Second)
			up := startProber(t, tp.gw, topology.HubTunnel)
			down := startProber(t, tp.hub, topology.GwTunnel)
			began := time.Now()
			time.Sleep(25 * time.Second)
			end := time.Now()
			time.Sleep(time.Second) // replies to the last requests arrive
			for _, tap := range []string{"tap1", "tap2"} {
				var resets []string
				for _, l := range hub.logLines("soft reset") {
					if strings.Contains(l, "tap="+tap+" ") {
						resets = append(resets, l)
					}
				}
				if len(resets) < 2 {
					t.Errorf("%s renegotiated %d times in 25 s, want at least 2 (every 10 s):\n%s", tap, len(resets), hub.Logs(30))
				}
			}
			l1, s1 := up.Lost(began, end)
			l2, s2 := down.Lost(began, end)
			// Echoes lost are reported, not asserted: 0 of 1000 in three
			// runs on this host, 1 of 1000 in a fourth (issue 24's note).
			if l1+l2 != 0 {
				t.Logf("%d of %d echoes lost across renegotiations: gateway's sent at %v, hub's at %v", l1+l2, s1+s2,
					sinceAll(began, up.Unanswered(began, end)), sinceAll(began, down.Unanswered(began, end)))
			}
			var events []api.Event
			if code := gw.callAuth(http.MethodGet, "/v1/client/events?bond=bond0", nil, &events, false); code != http.StatusOK {
				t.Fatalf("events: %d", code)
			}
			for _, e := range events {
				if !e.At.Before(began) {
					t.Errorf("a renegotiation looked like a link fault: %+v", e)
				}
			}
			if got := gw.logLines("out of sync"); len(got) != 0 {
				t.Errorf("the gateway dropped packets of a key it no longer had:\n%s", strings.Join(got, "\n"))
			}
			t.Logf("%s: 25 s of 10 s renegotiations (%d by the hub), %d echoes each way, %d lost", driver, len(hub.logLines("soft reset")), s1, l1+l2)
		})
	}
}
