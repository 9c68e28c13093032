package testsupport_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/multilink/multilink/internal/gateway"
	"github.com/multilink/multilink/internal/hub"
	"github.com/multilink/multilink/internal/restapi"
	"github.com/multilink/multilink/internal/testsupport"
)

// TestFakesFit: the fakes have what the packages' interfaces ask for.
func TestFakesFit(t *testing.T) {
	var (
		_ gateway.Netlink = testsupport.NewFakeNetlink()
		_ hub.Netlink     = testsupport.NewFakeNetlink()
		_ restapi.Hub     = testsupport.NewFakeHub(nil, testsupport.Answering)
		_ restapi.Gateway = testsupport.NewFakeGateway(nil, testsupport.Tracking)
	)
}

// TestPoll: a cond that holds ends the poll; one that never does is an
// error naming what was awaited and the last state seen.
func TestPoll(t *testing.T) {
	n := 0
	if _, err := testsupport.Poll(context.Background(), time.Second, time.Millisecond, "three calls", func() (bool, string) {
		n++
		return n == 3, ""
	}); err != nil || n != 3 {
		t.Errorf("poll: %v after %d calls", err, n)
	}
	_, err := testsupport.Poll(context.Background(), 20*time.Millisecond, time.Millisecond, "never", func() (bool, string) { return false, "still not" })
	if err == nil || !strings.Contains(err.Error(), "never") || !strings.Contains(err.Error(), "still not") {
		t.Errorf("timeout error %v", err)
	}
}

// TestFakeNetlinkTranscript: changes are recorded in order, a failing
// prefix fails its change, and links added, found and removed.
func TestFakeNetlinkTranscript(t *testing.T) {
	n := testsupport.NewFakeNetlink("eth0")
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	if err := n.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	n.FailOn("up")
	if err := n.LinkSetUp(br); err == nil {
		t.Error("up br0 did not fail")
	}
	if l, err := n.LinkByName("eth0"); err != nil || l.Attrs().Index != 2 {
		t.Errorf("eth0: %v %v", l, err)
	}
	if err := n.LinkDel(br); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(n.Ops(), "|"); got != "add bridge br0|up br0|del br0" {
		t.Errorf("transcript %s", got)
	}
	if got := n.Links(); len(got) != 1 || got[0] != "eth0" {
		t.Errorf("links %q", got)
	}
}
