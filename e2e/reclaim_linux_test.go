package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// TestGatewayReclaims: a hub that comes back with a new tunnel identity
// and without its claims (its identity dir and claims file lost) pins
// nobody's certificate and presents one the gateway does not know: the
// gateway, with no link up for 10 s, claims the bridge again, pins the
// hub's new certificate, and the bond answers again; nobody touches the
// gateway.
//
// Kernel-agnostic: on the host only.
func TestGatewayReclaims(t *testing.T) {
	nstest.HostOnly(t)
	tp := newTopology(t)
	hub, gw := scenario(t, tp, specClientBody(t), "ebpf")
	if err := hub.stop(); err != nil {
		t.Fatal(err)
	}
	for _, lost := range []string{"identity", "claims.json"} {
		if err := os.RemoveAll(filepath.Join(hub.stateDir, lost)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	hub = hub.again(t)
	if err := firstReply(t, tp.gw, topology.HubTunnel, 60*time.Second); err != nil {
		t.Fatalf("after the hub came back with a new identity: %v\nhub log:\n%s\ngateway log:\n%s", err, hub.Logs(40), gw.Logs(40))
	}
	took := time.Since(start)
	// The claim's answer restarts the links one after the other and logs
	// once they all are: the first can carry a reply before that.
	if !waitFor(t, 10*time.Second, 100*time.Millisecond, func() bool { return len(gw.logLines("claimed the hub's bridge again")) > 0 }) {
		t.Errorf("the bond answers, but the gateway never claimed again:\n%s", gw.Logs(40))
	}
	pingOK(t, tp.hub, topology.GwTunnel)
	t.Logf("the bond answered %s after the hub's restart with a new identity (re-claim after 10 s without a link up)", took.Round(time.Millisecond))
}
