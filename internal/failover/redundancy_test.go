package failover

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/probe"
)

// TestRedundancyDuringSuspicion: the first lost probe of the active link
// has the bond copy its frames to the standby; the switch there ends the
// copies and says how long they ran; a suspicion that clears (a reply)
// stops them.
func TestRedundancyDuringSuspicion(t *testing.T) {
	ms := time.Millisecond
	r := newRig(t)
	r.play(1000, 10, both(ms))
	if len(r.b.dups) != 0 {
		t.Fatalf("copies %v with a healthy active link", r.b.dups)
	}
	// One probe lost, then a reply: copies start, then stop.
	r.e.take(probe.Sample{Bond: "bond0", Link: "tap1", At: at(r.now), Lost: true, Sent: at(r.now - 5)})
	r.stepNow()
	if st := r.e.Status(); r.b.dup != "tap2" || st.Duplicating != "tap2" {
		t.Fatalf("after a loss: bond copies to %q, status %q, want tap2", r.b.dup, st.Duplicating)
	}
	r.play(20, 10, both(ms))
	if r.b.dup != "" || !slices.Equal(r.b.dups, []string{"tap2", ""}) {
		t.Fatalf("after the reply: copies to %q (calls %q), want stopped", r.b.dup, r.b.dups)
	}
	// The hub was told at the start (it learns the bond on either link)
	// and at the end (on the active link again).
	if r.b.announced != 2 {
		t.Errorf("announced %d times around the copies, want 2", r.b.announced)
	}
	// A cut: copies from the first loss, the switch to tap2 ends them.
	r.play(200, 5, map[string]time.Duration{"tap2": ms})
	sw := r.switches()
	if len(sw) != 1 || sw[0].To != "tap2" {
		t.Fatalf("switches %+v, want one to tap2", sw)
	}
	if sw[0].Redundancy <= 0 || sw[0].Redundancy > sw[0].Detection {
		t.Errorf("redundancy %v before the switch (detection %v), want copies since the first loss", sw[0].Redundancy, sw[0].Detection)
	}
	if e := sw[0].API(); e.RedundancyMs == nil {
		t.Error("the switch event's API has no redundancy_ms")
	}
	if r.b.dup != "" || r.e.Status().Duplicating != "" {
		t.Errorf("still copying to %q after the switch", r.b.dup)
	}
}

// TestRedundancyOnlyWhenNeeded: a link marked only_when_needed gets no
// copies; a pin stops them too.
func TestRedundancyOnlyWhenNeeded(t *testing.T) {
	ms := time.Millisecond
	r := newRig(t)
	r.play(1000, 10, both(ms))
	u, _, err := ParseRequest([]byte(`{"only_when_needed": ["tap2"]}`), r.e.Policy())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.e.Apply(u); err != nil {
		t.Fatal(err)
	}
	if st := r.e.Status(); !slices.Equal(st.OnlyWhenNeeded, []string{"tap2"}) {
		t.Errorf("status only_when_needed %v", st.OnlyWhenNeeded)
	}
	r.play(200, 5, map[string]time.Duration{"tap2": ms})
	if len(r.b.dups) != 0 {
		t.Errorf("copies %v to an only_when_needed link", r.b.dups)
	}
	if sw := r.switches(); len(sw) != 1 || sw[0].Redundancy != 0 {
		t.Errorf("switches %+v, want one with no redundancy", sw)
	}
	for _, bad := range []string{`{"only_when_needed": ["tap9"]}`, `{"only_when_needed": ["tap1", "tap1"]}`} {
		u, _, err := ParseRequest([]byte(bad), r.e.Policy())
		if err == nil {
			err = r.e.Apply(u)
		}
		if errkind.FieldOf(err) != "only_when_needed" {
			t.Errorf("%s: error %v, want one naming only_when_needed", bad, err)
		}
	}
}

// TestRedundancyUnsupported: a bond that cannot copy (the kernel bond)
// is asked once, and the engine fails over without copies.
func TestRedundancyUnsupported(t *testing.T) {
	ms := time.Millisecond
	r := newRig(t)
	r.b.dupErr = errkind.Unsupported(errors.New("not supported"), "only the eBPF bond can duplicate frames")
	r.play(1000, 10, both(ms))
	r.play(200, 5, map[string]time.Duration{"tap2": ms})
	if sw := r.switches(); len(sw) != 1 || sw[0].To != "tap2" || sw[0].State != "" && sw[0].State != api.LinkDown {
		t.Fatalf("switches %+v, want one to tap2", sw)
	}
	r.b.dupErr = errors.New("asked again")
	r.play(1000, 10, both(ms))
	r.play(200, 5, map[string]time.Duration{"tap1": ms})
	if !r.e.noDup || len(r.b.dups) != 0 {
		t.Errorf("noDup %v, copies %v: want no copies and no second attempt", r.e.noDup, r.b.dups)
	}
}
