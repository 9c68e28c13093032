package ping

import (
	"net/netip"
	"testing"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

func TestPingRejectsInvalidWithoutSending(t *testing.T) {
	_, err := New(nil).Ping(t.Context(), api.PingRequest{IP: netip.MustParseAddr("224.0.0.1")})
	if errkind.KindOf(err) != errkind.KindInvalid {
		t.Fatalf("multicast target: %v, want invalid", err)
	}
}
