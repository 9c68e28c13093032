package e2e

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/nstest"

	"github.com/multilink/multilink/internal/topology"
)

// TestOneBondPerBridge: a second bond (another name, tap_prefix and
// address) pointed at the bridge bond0 holds is refused with 409 naming
// the bridge and the holder, makes nothing, and bond0's traffic is
// untouched (a 20 ms ping stream through it loses nothing). bond0's stop
// releases the bridge and the second bond then starts; the hub's
// operator can release it by an authenticated call.
func TestOneBondPerBridge(t *testing.T) {
	nstest.HostOnly(t)
	tp := newTopology(t)
	hub, gw := scenario(t, tp, specClientBody(t), "ebpf")
	second := []byte(strings.NewReplacer(`"bond0"`, `"bond1"`, `"`+topology.GwTunnel+`"`, `"10.8.0.252"`,
		`"ip_address"`, `"tap_prefix": "tun", "ip_address"`, `"primary": "tap1"`, `"primary": "tun1"`).Replace(string(pinned(t, hub, specClientBody(t)))))
	before := links(t, tp.gw)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stream := tp.gw.Command(ctx, "ping", "-n", "-q", "-i", "0.02", "-c", "250", "-W", "1", topology.HubTunnel)
	var out bytes.Buffer
	stream.Stdout, stream.Stderr = &out, &out
	if err := stream.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	var e struct {
		Error string `json:"error"`
	}
	code := gw.call(http.MethodPost, "/v1/client/start", second, &e)
	if code != http.StatusConflict || !strings.Contains(e.Error, "br0") || !strings.Contains(e.Error, "bond bond0") {
		t.Errorf("second bond on a held bridge: %d %q, want 409 naming br0 and bond0 as the holder", code, e.Error)
	}
	if err := stream.Wait(); err != nil {
		t.Errorf("ping stream through bond0: %v\n%s", err, out.String())
	}
	if m := regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`).FindStringSubmatch(out.String()); m == nil || m[1] != m[2] {
		t.Errorf("bond0 lost traffic while the second bond was refused:\n%s", out.String())
	}
	if after := links(t, tp.gw); !slices.Equal(after, before) {
		t.Errorf("the refused start changed the gateway's links:\n before %v\n after  %v", before, after)
	}
	var st struct {
		Servers []struct {
			Holder *struct {
				Bond string `json:"bond"`
			} `json:"holder"`
		} `json:"servers"`
	}
	if code := hub.call(http.MethodGet, "/v1/server/status", nil, &st); code != http.StatusOK || len(st.Servers) != 1 || st.Servers[0].Holder == nil || st.Servers[0].Holder.Bond != "bond0" {
		t.Errorf("hub status does not show bond0 as the holder: %d %+v", code, st)
	}

	if code := gw.call(http.MethodPost, "/v1/client/stop/bond0", nil, nil); code != http.StatusOK {
		t.Fatalf("stop bond0: %d", code)
	}
	if code := gw.call(http.MethodPost, "/v1/client/start", second, nil); code != http.StatusOK {
		t.Fatalf("second bond after bond0's stop: %d, want 200 (the stop released the bridge)", code)
	}
	pingOK(t, tp.gw, topology.HubTunnel)

	if code := hub.callAuth(http.MethodPost, "/v1/server/release/br0", nil, nil, false); code != http.StatusUnauthorized {
		t.Errorf("release without the token: %d, want 401", code)
	}
	var rel struct {
		Released *struct {
			Bond string `json:"bond"`
		} `json:"released"`
	}
	if code := hub.call(http.MethodPost, "/v1/server/release/br0", nil, &rel); code != http.StatusOK || rel.Released == nil || rel.Released.Bond != "bond1" {
		t.Errorf("operator's release: %d %+v, want bond1 released", code, rel)
	}
}
