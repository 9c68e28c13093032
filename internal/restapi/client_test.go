package restapi

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

func TestClientStartSpecBody(t *testing.T) {
	a := newTestAPI(t)
	w := a.do(http.MethodPost, "/v1/client/start", readSpec(t, "spec_client_start.json"))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var st api.ClientStatus
	decode(t, w, &st)
	if st.Bond != "bond0" {
		t.Errorf("answer %+v", st)
	}
	c := a.rec.gw.LastStart()
	if c.ServerAPIURL != "http://158.42.89.111:3333" || c.Bond != "bond0" || c.Address != netip.MustParsePrefix("10.8.0.253/24") {
		t.Errorf("gateway got %+v", c)
	}
	wantSlaves := []api.Slave{
		{HWInt: "eth0", IPServer: netip.MustParseAddr("158.42.89.111"), Netmask: 24},
		{HWInt: "wlan0", IPServer: netip.MustParseAddr("192.168.150.100"), Netmask: 24},
	}
	if !slices.Equal(c.Slaves, wantSlaves) {
		t.Errorf("slaves %+v, want %+v", c.Slaves, wantSlaves)
	}
	b := c.Bonding
	if *b.Mode != 1 || *b.Primary != "tap1" || *b.ArpInterval != 100 || *b.FailOverMac != 1 || *b.ArpValidate != 5 ||
		!slices.Equal(b.ArpIPTarget, []netip.Addr{netip.MustParseAddr("10.8.0.254")}) {
		t.Errorf("bonding %+v", b)
	}
	if calls := a.rec.Calls(); !slices.Equal(calls, []string{"gateway.Start bond0"}) {
		t.Errorf("calls %q", calls)
	}
}

func TestClientStartHubUnreachable(t *testing.T) {
	a := newTestAPI(t)
	a.rec.Err = errkind.Unavailable(nil, "reach the hub API at http://158.42.89.111:3333")
	e := wantError(t, a.do(http.MethodPost, "/v1/client/start", readSpec(t, "spec_client_start.json")), http.StatusBadGateway)
	if e.Error != "reach the hub API at http://158.42.89.111:3333" {
		t.Errorf("error %q", e.Error)
	}
}

func TestClientStatus(t *testing.T) {
	a := newTestAPI(t)
	var st api.ClientStatusResponse
	w := a.doAuth(http.MethodGet, "/v1/client/status", "", "")
	decode(t, w, &st)
	if w.Code != http.StatusOK || st.Started || st.Clients == nil {
		t.Errorf("idle: %d %s", w.Code, w.Body)
	}
	a.rec.gw.SetStatuses([]api.ClientStatus{{Bond: "bond0", Present: true, Active: "tap1"}})
	w = a.doAuth(http.MethodGet, "/v1/client/status", "", "")
	decode(t, w, &st)
	if !st.Started || len(st.Clients) != 1 || st.Clients[0].Active != "tap1" {
		t.Errorf("started: %s", w.Body)
	}
	// A desired client that does not run yet is listed, not started.
	a.rec.gw.SetStatuses([]api.ClientStatus{{Bond: "bond0", Pending: "not running: 1 failed starts (next attempt in 2s): reach the hub"}})
	w = a.doAuth(http.MethodGet, "/v1/client/status", "", "")
	decode(t, w, &st)
	if st.Started || len(st.Clients) != 1 || st.Clients[0].Pending == "" || strings.Contains(w.Body.String(), "started_at") {
		t.Errorf("pending: %s", w.Body)
	}
}

func TestClientStop(t *testing.T) {
	a := newTestAPI(t)
	w := a.do(http.MethodPost, "/v1/client/stop/bond0", "")
	var s stopped
	decode(t, w, &s)
	if w.Code != http.StatusOK || s.Stopped != "bond0" {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	if c := a.rec.Calls(); !slices.Equal(c, []string{"gateway.Stop bond0"}) {
		t.Errorf("calls %q", c)
	}
}

func TestBondParamsGet(t *testing.T) {
	a := newTestAPI(t)
	w := a.doAuth(http.MethodGet, "/v1/client/bond_params/bond0", "", "")
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var info api.BondInfo
	decode(t, w, &info)
	if info.Name != "bond0" || info.Active != "tap1" || info.Params.ArpInterval == nil || *info.Params.ArpInterval != 100 {
		t.Errorf("info %+v", info)
	}
	a.rec.Err = errkind.NotFound("no client with bond bond0 is started")
	wantError(t, a.doAuth(http.MethodGet, "/v1/client/bond_params/bond0", "", ""), http.StatusNotFound)
}

func TestBondParamsPutSpecBody(t *testing.T) {
	a := newTestAPI(t)
	w := a.do(http.MethodPut, "/v1/client/bond_params/bond0", readSpec(t, "spec_bond_params.json"))
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	p := a.rec.gw.LastParams()
	if p.Primary == nil || *p.Primary != "tap2" || p.ArpInterval == nil || *p.ArpInterval != 50 {
		t.Errorf("gateway got %+v", p)
	}
	if p.Mode != nil || p.ArpValidate != nil || p.ArpIPTarget != nil || p.Miimon != nil {
		t.Errorf("parameters not given were set: %+v", p)
	}
	var info api.BondInfo
	decode(t, w, &info)
	if *info.Params.Primary != "tap2" || *info.Params.ArpInterval != 50 {
		t.Errorf("answer %+v", info.Params)
	}
	if c := a.rec.Calls(); !slices.Equal(c, []string{"gateway.SetBondParams bond0"}) {
		t.Errorf("calls %q", c)
	}
}

func TestBondParamsPutSemanticError(t *testing.T) {
	a := newTestAPI(t)
	a.rec.Err = errkind.Invalid("primary", `"tap9" is not a slave of this bond`)
	e := wantError(t, a.do(http.MethodPut, "/v1/client/bond_params/bond0", `{"primary": "tap9"}`), http.StatusBadRequest)
	if e.Field != "primary" {
		t.Errorf("field %q", e.Field)
	}
}
