package bond

import (
	"context"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/testsupport"
)

// TestKernelSteady: the ARP monitor is made patient (arp_missed_max
// covering the patience at the bond's arp_interval) until release, which
// puts the operator's value back, but not over a value the operator set
// meanwhile; a patience the setting covers already changes nothing.
func TestKernelSteady(t *testing.T) {
	_, k := created(t)
	ctx := context.Background()
	interval := *info(t, k).Params.ArpInterval
	if interval <= 0 {
		t.Fatalf("the spec's bond has arp_interval %d", interval)
	}
	had := *info(t, k).Params.ArpMissedMax
	release, err := k.Steady(ctx, "bond0", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := (2000 + interval - 1) / interval
	if got := *info(t, k).Params.ArpMissedMax; got != want {
		t.Errorf("during: arp_missed_max %d, want %d (2 s at %d ms)", got, want, interval)
	}
	release()
	if got := *info(t, k).Params.ArpMissedMax; got != had {
		t.Errorf("after: arp_missed_max %d, want the %d it had", got, had)
	}

	release, err = k.Steady(ctx, "bond0", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Set(ctx, "bond0", testsupport.Decode[api.BondParams](t, `{"arp_missed_max": 7}`)); err != nil {
		t.Fatal(err)
	}
	release()
	if got := *info(t, k).Params.ArpMissedMax; got != 7 {
		t.Errorf("the release undid the operator's arp_missed_max 7: %d", got)
	}

	release, err = k.Steady(ctx, "bond0", time.Duration(interval)*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if got := *info(t, k).Params.ArpMissedMax; got != 7 {
		t.Errorf("a patience arp_missed_max 7 covers changed it to %d", got)
	}
	if _, err := k.Steady(ctx, "bond9", time.Second); err == nil {
		t.Error("an unknown bond made patient without an error")
	}
}
