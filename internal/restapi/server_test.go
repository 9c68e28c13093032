package restapi

import (
	"net/http"
	"net/netip"
	"slices"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

func TestServerStartSpecBody(t *testing.T) {
	a := newTestAPI(t)
	w := a.do(http.MethodPost, "/v1/server/start", readSpec(t, "spec_server_start.json"))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var st api.ServerStatus
	decode(t, w, &st)
	if st.Bridge != "br0" || st.BridgeIP != "10.8.0.254/24" {
		t.Errorf("answer %+v", st)
	}
	got := a.rec.hub.LastStart()
	if got.BridgeInterface != "br0" || got.BridgeIP != netip.MustParsePrefix("10.8.0.254/24") || got.Links != 2 ||
		got.PortBase != 1191 || got.TapPrefix != "tap" {
		t.Errorf("hub got %+v", got)
	}
	if c := a.rec.Calls(); !slices.Equal(c, []string{"hub.Start br0"}) {
		t.Errorf("calls %q", c)
	}
}

func TestServerStartConflict(t *testing.T) {
	a := newTestAPI(t)
	a.rec.Err = errkind.Conflict("server br0 is already started")
	e := wantError(t, a.do(http.MethodPost, "/v1/server/start", readSpec(t, "spec_server_start.json")), http.StatusConflict)
	if e.Error != "server br0 is already started" {
		t.Errorf("error %q", e.Error)
	}
}

func TestServerKey(t *testing.T) {
	a := newTestAPI(t)
	w := a.do(http.MethodGet, "/v1/server/key", "")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q on the key, want no-store", cc)
	}
	var k api.Key
	decode(t, w, &k)
	if k.Key == "" || len(k.Links) != 1 || k.Links[0].Port != 1191 {
		t.Errorf("key %+v", k)
	}
	if w := a.do(http.MethodGet, "/v1/server/key?bridge=br1", ""); w.Code != http.StatusOK {
		t.Errorf("key of br1: %d", w.Code)
	}
	if c := a.rec.Calls(); !slices.Equal(c, []string{"hub.Key ", "hub.Key br1"}) {
		t.Errorf("calls %q", c)
	}
	a.rec.Err = errkind.NotFound("no server is started")
	wantError(t, a.do(http.MethodGet, "/v1/server/key", ""), http.StatusNotFound)
}

func TestServerStop(t *testing.T) {
	a := newTestAPI(t)
	w := a.do(http.MethodPost, "/v1/server/stop/br0", "")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var s stopped
	decode(t, w, &s)
	if s.Stopped != "br0" {
		t.Errorf("answer %+v", s)
	}
	if c := a.rec.Calls(); !slices.Equal(c, []string{"hub.Stop br0"}) {
		t.Errorf("calls %q", c)
	}
	a.rec.Err = errkind.NotFound("no server with bridge br0 is started")
	wantError(t, a.do(http.MethodPost, "/v1/server/stop/br0", ""), http.StatusNotFound)
}

func TestServerStatus(t *testing.T) {
	a := newTestAPI(t)
	var st api.ServerStatusResponse
	w := a.doAuth(http.MethodGet, "/v1/server/status", "", "")
	decode(t, w, &st)
	if w.Code != http.StatusOK || st.Started || st.Servers == nil || len(st.Servers) != 0 {
		t.Errorf("idle: %d %s", w.Code, w.Body)
	}
	a.rec.hub.SetStatuses([]api.ServerStatus{{Bridge: "br0", Present: true, Links: []api.ServerLink{{Tap: "tap1", Port: 1191, Running: true}}}})
	w = a.doAuth(http.MethodGet, "/v1/server/status", "", "")
	decode(t, w, &st)
	if w.Code != http.StatusOK || !st.Started || len(st.Servers) != 1 || st.Servers[0].Links[0].Port != 1191 {
		t.Errorf("started: %d %s", w.Code, w.Body)
	}
	a.rec.hub.SetStatuses([]api.ServerStatus{{Bridge: "br0", Pending: "not running: 2 failed starts (next attempt in 4s): find openvpn"}})
	w = a.doAuth(http.MethodGet, "/v1/server/status", "", "")
	decode(t, w, &st)
	if st.Started || len(st.Servers) != 1 || st.Servers[0].Pending == "" {
		t.Errorf("pending: %s", w.Body)
	}
}
