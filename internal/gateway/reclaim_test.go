package gateway

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"
)

const newHubFP = "33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33"

// TestReclaimWhenAllLinksDown: a bond with a link up never asks its hub
// again; one with none up for 10 s claims again, restarts the links whose
// secret the answer changed (a hub with a new certificate; a server
// started again with a new key) and no other, and then waits longer
// before the next attempt.
func TestReclaimWhenAllLinksDown(t *testing.T) {
	for _, tls := range []bool{true, false} {
		t.Run(map[bool]string{false: "static", true: "tls"}[tls], func(t *testing.T) {
			w, f, steer, g := rotatingGateway(t, tls)
			ctx := context.Background()
			claims := func() int { return len(f.hubs) }
			state := map[string]*reclaim{}
			t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
			g.reclaimDue(ctx, state, t0.Add(time.Hour))
			if claims() != 1 {
				t.Fatalf("links up: %d claims, want only the start's", claims())
			}
			steer.down = true
			// The hub's new secret.
			if tls {
				f.tls = newHubFP
			} else {
				f.key = rotatedKey
			}
			before := len(w.Ops())
			g.reclaimDue(ctx, state, t0)
			g.reclaimDue(ctx, state, t0.Add(9*time.Second))
			if claims() != 1 {
				t.Fatalf("links down for 9 s: %d claims, want none yet", claims()-1)
			}
			g.reclaimDue(ctx, state, t0.Add(10*time.Second))
			if claims() != 2 {
				t.Fatalf("links down for 10 s: %d claims, want one", claims()-1)
			}
			if want := []string{"tunnel reconfigure tap1", "tunnel reconfigure tap2"}; !slices.Equal(w.Ops()[before:], want) {
				t.Errorf("changes %q, want %q", w.Ops()[before:], want)
			}
			for _, tap := range []string{"tap1", "tap2"} {
				s := w.tunnels[tap]
				if tls && !slices.Equal(s.PeerFingerprints, []string{newHubFP}) {
					t.Errorf("%s pins %v, want the hub's new %s", tap, s.PeerFingerprints, newHubFP)
				}
				if !tls {
					if data, _ := os.ReadFile(s.KeyFile); string(data) != rotatedKey {
						t.Errorf("%s runs %s, not the hub's new key", tap, s.KeyFile)
					}
				}
			}
			// Nothing changed since: the next attempt, 10 s later, restarts
			// nothing; the one after waits 20 s.
			before = len(w.Ops())
			g.reclaimDue(ctx, state, t0.Add(19*time.Second))
			g.reclaimDue(ctx, state, t0.Add(20*time.Second))
			g.reclaimDue(ctx, state, t0.Add(39*time.Second))
			if claims() != 3 || len(w.Ops()) != before {
				t.Errorf("%d claims, changes %q, want one more claim and no change", claims()-2, w.Ops()[before:])
			}
			g.reclaimDue(ctx, state, t0.Add(40*time.Second))
			if claims() != 4 {
				t.Errorf("%d claims after 40 s, want the third attempt", claims()-1)
			}
			// A link up again resets the wait.
			steer.down = false
			g.reclaimDue(ctx, state, t0.Add(41*time.Second))
			steer.down = true
			g.reclaimDue(ctx, state, t0.Add(42*time.Second))
			g.reclaimDue(ctx, state, t0.Add(52*time.Second))
			if claims() != 5 {
				t.Errorf("%d claims, want one 10 s after the links went down again", claims()-1)
			}
		})
	}
}
