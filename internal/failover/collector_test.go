package failover

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/multilink/multilink/api"
)

// TestCollectorPreferred: the preferred link is the pinned one, else the
// first in priority; the active link is exported beside it.
func TestCollectorPreferred(t *testing.T) {
	status := api.FailoverStatus{Bond: "bond0", Active: "tap2", Priority: []string{"tap1", "tap2", "tap3"},
		Links: []api.FailoverLink{{Link: "tap1"}, {Link: "tap2"}, {Link: "tap3"}}}
	head := `# HELP multilink_link_preferred 1 for the link the bond uses when every link is up (the pinned link, else the first in priority), 0 for the others: an active link that is not the preferred one is a backup.
# TYPE multilink_link_preferred gauge
`
	for _, c := range []struct {
		pin       string
		preferred string
	}{{"", "tap1"}, {"tap3", "tap3"}} {
		st := status
		st.Pin = c.pin
		want := head
		for _, l := range []string{"tap1", "tap2", "tap3"} {
			v := "0"
			if l == c.preferred {
				v = "1"
			}
			want += `multilink_link_preferred{bond="bond0",link="` + l + `"} ` + v + "\n"
		}
		col := newCollector(func() []api.FailoverStatus { return []api.FailoverStatus{st} })
		if err := testutil.CollectAndCompare(col, strings.NewReader(want), "multilink_link_preferred"); err != nil {
			t.Errorf("pin %q: %v", c.pin, err)
		}
		active := `# HELP multilink_active_link 1 for the link the bond uses, 0 for the others.
# TYPE multilink_active_link gauge
multilink_active_link{bond="bond0",link="tap1"} 0
multilink_active_link{bond="bond0",link="tap2"} 1
multilink_active_link{bond="bond0",link="tap3"} 0
`
		if err := testutil.CollectAndCompare(col, strings.NewReader(active), "multilink_active_link"); err != nil {
			t.Errorf("pin %q: %v", c.pin, err)
		}
	}
}
