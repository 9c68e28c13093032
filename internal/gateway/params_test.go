package gateway

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/bond"
	"github.com/multilink/multilink/internal/config"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
)

func TestSetBondParams(t *testing.T) {
	w, g := startedGateway(t)
	ctx := context.Background()
	p := testsupport.Decode[api.BondParams](t, `{"primary":"tap2","arp_interval":"50"}`)
	info, err := g.SetBondParams(ctx, "bond0", p)
	if err != nil || *info.Params.Primary != "tap2" || *info.Params.ArpInterval != 50 {
		t.Fatalf("set: %+v %v", info, err)
	}
	if c := g.Configs()[0]; *c.Bonding.Primary != "tap2" || *c.Bonding.ArpInterval != 50 {
		t.Errorf("config not updated for restarts: %+v", c.Bonding)
	}
	bad := api.BondParams{Primary: testsupport.Ptr("tap9")}
	before := len(w.Ops())
	if _, err := g.SetBondParams(ctx, "bond0", bad); errkind.KindOf(err) != errkind.KindInvalid {
		t.Errorf("primary tap9: %v", err)
	}
	if ops := w.Ops(); len(ops) != before {
		t.Errorf("bad params reached the bond: %v", ops[before:])
	}
	if _, err := g.SetBondParams(ctx, "bond9", p); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("unknown bond: %v", err)
	}
}

// TestSetBondParamsDriverJudges: changes the bond driver accepts (what
// the kernel changes by itself included) are not refused by the gateway,
// and what is stored for restarts is what is in force, which a restarted
// daemon can create again.
func TestSetBondParamsDriverJudges(t *testing.T) {
	for _, put := range []string{
		`{"bonding_mode": "802.3ad"}`,
		`{"bonding_mode": "0"}`,
		`{"miimon": 100, "arp_interval": 0}`,
		`{"bonding_mode": "balance-alb", "updelay": 300, "miimon": 100}`,
		`{"arp_missed_max": 4, "primary": ""}`,
	} {
		t.Run(put, func(t *testing.T) {
			_, g := startedGateway(t)
			ctx := context.Background()
			info, err := g.SetBondParams(ctx, "bond0", testsupport.Decode[api.BondParams](t, put))
			if err != nil {
				t.Fatalf("set %s: %v", put, err)
			}
			stored := g.Configs()[0]
			if !reflect.DeepEqual(stored.Bonding, bond.Desired(info)) {
				t.Errorf("stored %s, want the parameters in force %s", testsupport.MustJSON(stored.Bonding), testsupport.MustJSON(bond.Desired(info)))
			}

			// A restart: the desired state goes through state.json and a
			// new gateway starts it on a new host.
			data, err := json.Marshal(config.File{Clients: g.Configs()})
			if err != nil {
				t.Fatal(err)
			}
			saved, err := config.ParseFile(data)
			if err != nil {
				t.Fatalf("parse saved state %s: %v", data, err)
			}
			w2 := newWorld("eth0", "wlan0")
			g2 := testGateway(t, w2, &fetcher{})
			if _, err := g2.Start(ctx, saved.Clients[0]); err != nil {
				t.Fatalf("restart from %s: %v", data, err)
			}
			again, err := g2.BondParams(ctx, "bond0")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again.Params, info.Params) {
				t.Errorf("after a restart %s, before %s", testsupport.MustJSON(again.Params), testsupport.MustJSON(info.Params))
			}
		})
	}
}

// TestSetBondParamsRefused: what the driver refuses is 400 and changes
// neither the bond nor what is stored.
func TestSetBondParamsRefused(t *testing.T) {
	_, g := startedGateway(t)
	ctx := context.Background()
	live, _ := g.BondParams(ctx, "bond0")
	stored := g.Configs()[0].Bonding
	for _, put := range []string{
		`{"primary": "tap9"}`,
		`{"miimon": 100, "arp_interval": 100}`,
		`{"bonding_mode": "802.3ad", "arp_interval": 100}`,
		`{"bonding_mode": "balance-xor", "primary": "tap1"}`,
		`{"arp_validate": "all", "miimon": 100, "arp_interval": 0}`,
		`{"arp_interval": 200, "arp_ip_target": []}`,
	} {
		if _, err := g.SetBondParams(ctx, "bond0", testsupport.Decode[api.BondParams](t, put)); errkind.KindOf(err) != errkind.KindInvalid {
			t.Errorf("%s: %v, want invalid", put, err)
		}
	}
	if now, _ := g.BondParams(ctx, "bond0"); !reflect.DeepEqual(now.Params, live.Params) {
		t.Errorf("refused changes changed the bond: %s, was %s", testsupport.MustJSON(now.Params), testsupport.MustJSON(live.Params))
	}
	if now := g.Configs()[0].Bonding; !reflect.DeepEqual(now, stored) {
		t.Errorf("refused changes changed the stored bonding: %s, was %s", testsupport.MustJSON(now), testsupport.MustJSON(stored))
	}
}

// TestSetBondParamsKeepsOperatorPrimary: the live primary may be the
// failover engine's choice of the moment; a PUT of something else stores
// the operator's primary, not that one.
func TestSetBondParamsKeepsOperatorPrimary(t *testing.T) {
	w, g := startedGateway(t)
	ctx := context.Background()
	// The failover engine steers the bond to tap2 (through the driver).
	tap2 := "tap2"
	if err := (bondDriver{w}).Set(ctx, "bond0", api.BondParams{Primary: &tap2}); err != nil {
		t.Fatal(err)
	}
	p := testsupport.Decode[api.BondParams](t, `{"arp_interval": "50"}`)
	if _, err := g.SetBondParams(ctx, "bond0", p); err != nil {
		t.Fatal(err)
	}
	if c := g.Configs()[0]; *c.Bonding.Primary != "tap1" || *c.Bonding.ArpInterval != 50 {
		t.Errorf("stored primary %s arp_interval %d, want the operator's tap1 and 50", *c.Bonding.Primary, *c.Bonding.ArpInterval)
	}
}
