package failover

import (
	"testing"
	"time"

	"github.com/multilink/multilink/api"
)

// resumedRig is a rig whose bond was left on tap2 (an earlier failover)
// by a daemon that exited; resume says whether the engine resumes it.
func resumedRig(t *testing.T, resume bool) *rig {
	r := newRig(t)
	r.b.active = "tap2"
	r.e.active, r.e.steered = "tap2", "tap2"
	if resume {
		r.e.resumeJudges("tap2", at(0))
	}
	r.e.setProbeRates(at(0))
	return r
}

func TestResumeNoSwitchBeforeHoldDown(t *testing.T) {
	ms := time.Millisecond
	// A fresh engine fails back to the primary on its first replies: the
	// restart alone would cause a switch.
	fresh := resumedRig(t, false)
	fresh.play(100, 10, both(ms))
	if sw := fresh.switches(); len(sw) != 1 || sw[0].To != "tap1" {
		t.Fatalf("fresh engine: switches %+v, want the failback a resume avoids", sw)
	}
	r := resumedRig(t, true)
	if st := r.e.judges["tap2"].state; st != api.LinkUp {
		t.Fatalf("active link resumed %s, want up", st)
	}
	r.play(1900, 10, both(ms))
	if sw := r.switches(); len(sw) != 0 || r.e.active != "tap2" {
		t.Fatalf("resumed: switches %+v before the 2 s hold-down", sw)
	}
	if st := r.e.judges["tap1"].state; st != api.LinkDegraded {
		t.Errorf("tap1 during its hold-down: %s, want degraded", st)
	}
	r.play(300, 10, both(ms))
	if sw := r.switches(); len(sw) != 1 || sw[0].To != "tap1" || sw[0].Reason != ReasonFailback {
		t.Fatalf("after the hold-down: switches %+v, want one failback to tap1", sw)
	}
}

func TestResumeLeavesDeadActive(t *testing.T) {
	ms := time.Millisecond
	r := resumedRig(t, true)
	r.play(200, 10, both(ms))
	// tap2, the active link, goes silent: left for tap1 (still in its
	// hold-down) within about the dead time, not after the start-up grace.
	r.play(300, 5, map[string]time.Duration{"tap1": ms})
	sw := r.switches()
	if len(sw) != 1 || sw[0].To != "tap1" || sw[0].Reason != ReasonDown {
		t.Fatalf("switches %+v, want one to tap1 for down", sw)
	}
	if d := sw[0].Detection; d > 100*ms {
		t.Errorf("detection %v: a resumed active link is judged by its dead time", d)
	}
}

func TestResumeSilentFromStart(t *testing.T) {
	// The active link died while no daemon ran: its silence counts from
	// the resume, and it is left once its dead time has passed.
	r := resumedRig(t, true)
	r.play(300, 5, map[string]time.Duration{"tap1": time.Millisecond})
	if sw := r.switches(); len(sw) != 1 || sw[0].To != "tap1" {
		t.Fatalf("switches %+v, want one to tap1", sw)
	}
}

func TestResumeStandbySilentAtFirst(t *testing.T) {
	ms := time.Millisecond
	// tap1 (a standby of the resumed bond) answers only after a while:
	// its first replies do not make it up at once.
	r := resumedRig(t, true)
	r.play(500, 10, map[string]time.Duration{"tap2": ms})
	if st := r.e.judges["tap1"].state; st != api.LinkDegraded {
		t.Fatalf("silent resumed standby: %s, want degraded", st)
	}
	r.play(1500, 10, both(ms))
	if sw := r.switches(); len(sw) != 0 {
		t.Fatalf("switches %+v before tap1's hold-down", sw)
	}
	r.play(700, 10, both(ms))
	if sw := r.switches(); len(sw) != 1 || sw[0].To != "tap1" {
		t.Fatalf("switches %+v, want the failback after the hold-down", sw)
	}
}
