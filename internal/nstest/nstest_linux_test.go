package nstest

import (
	"strings"
	"testing"
)

func TestVethPing(t *testing.T) {
	RequireCommand(t, "ping")
	a := New(t, "nsa")
	b := New(t, "nsb")
	Veth(t, a, "va", "192.0.2.1/24", b, "vb", "192.0.2.2/24")
	out := a.Run(t, "ping", "-c", "1", "-W", "2", "192.0.2.2")
	if !strings.Contains(out, "1 received") {
		t.Fatalf("ping across veth: %s", out)
	}
}
