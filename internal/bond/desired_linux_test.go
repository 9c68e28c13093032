package bond

import (
	"context"
	"reflect"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/testsupport"
)

// TestDesiredRecreates changes the spec bond as PUT bond_params does, then
// recreates it on a fresh host from Info.Desired, as a restarted daemon
// does: Create takes the parameters and the bond comes back the same.
func TestDesiredRecreates(t *testing.T) {
	for _, c := range []struct {
		name, put string
		old       bool // a kernel before 5.3: no raw attributes
	}{
		{name: "802.3ad", put: `{"bonding_mode": "802.3ad"}`},
		{name: "balance-rr", put: `{"bonding_mode": "0"}`},
		{name: "balance-tlb", put: `{"bonding_mode": "balance-tlb", "updelay": 200}`},
		{name: "miimon", put: `{"miimon": 100, "arp_interval": 0}`},
		{name: "miimon peer_notif_delay", put: `{"arp_interval": 0, "miimon": 100, "peer_notif_delay": 300}`},
		{name: "arp_missed_max", put: `{"arp_missed_max": 5, "primary": "tap2"}`},
		{name: "primary cleared", put: `{"primary": ""}`},
		{name: "old kernel", put: `{"arp_interval": 200}`, old: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake("tap1", "tap2")
			f.oldKernel = c.old
			k := NewKernel(f, nil)
			ctx := context.Background()
			if err := k.Create(ctx, specBond()); err != nil {
				t.Fatalf("create: %v", err)
			}
			if err := k.Set(ctx, "bond0", testsupport.Decode[api.BondParams](t, c.put)); err != nil {
				t.Fatalf("set %s: %v", c.put, err)
			}
			before := info(t, k)
			want := Desired(before)
			if want.ActiveSlave != nil {
				t.Errorf("desired has active_slave %q", *want.ActiveSlave)
			}
			if err := want.Check(before.Slaves); err != nil {
				t.Errorf("desired %s fails api.Check: %v", jsonOf(t, want), err)
			}

			f2 := newFake("tap1", "tap2")
			f2.oldKernel = c.old
			k2 := NewKernel(f2, nil)
			s := specBond()
			s.Params = want
			if err := k2.Create(ctx, s); err != nil {
				t.Fatalf("recreate from %s: %v", jsonOf(t, want), err)
			}
			after := info(t, k2)
			if !reflect.DeepEqual(after.Params.Merge(api.BondParams{ActiveSlave: testsupport.Ptr("")}), before.Params.Merge(api.BondParams{ActiveSlave: testsupport.Ptr("")})) {
				t.Errorf("recreated bond differs:\n%s\nwant:\n%s", jsonOf(t, after.Params), jsonOf(t, before.Params))
			}
		})
	}
}
