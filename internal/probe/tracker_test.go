package probe

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func msf(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// send sends the next probe at ms and returns its slot.
func send(t *testing.T, tr *tracker, ms int) int {
	t.Helper()
	i, ok := tr.next(at(ms))
	if !ok {
		t.Fatalf("at %d ms: no free slot", ms)
	}
	tr.sent(i, at(ms))
	return i
}

func TestTrackerRTTEstimators(t *testing.T) {
	var tr tracker
	rtts := []time.Duration{10, 10, 20, 10} // ms
	for k, r := range rtts {
		i := send(t, &tr, k*20)
		if _, ok := tr.reply(i, r*time.Millisecond, at(k*20+int(r))); !ok {
			t.Fatalf("reply %d not taken", k)
		}
	}
	// RFC 6298 by hand: 10 -> srtt 10, var 5; 10 -> srtt 10, var 3.75;
	// 20 -> var (3*3.75+10)/4 = 5.3125, srtt 11.25; 10 -> var (3*5.3125+1.25)/4 = 4.296875, srtt 11.09375.
	f := tr.fig
	if got, want := f.RTTSmoothed, msf(11.09375); absDur(got-want) > time.Microsecond {
		t.Errorf("srtt %v, want %v", got, want)
	}
	if got, want := f.RTTVar, msf(4.296875); absDur(got-want) > time.Microsecond {
		t.Errorf("rttvar %v, want %v", got, want)
	}
	// Jitter: D = 0, 10, 10 ms -> 0, 0.625, 1.2109375 ms.
	if got, want := f.Jitter, msf(1.2109375); absDur(got-want) > time.Microsecond {
		t.Errorf("jitter %v, want %v", got, want)
	}
	if f.RTTLast != 10*time.Millisecond || f.Loss != 0 || f.Decided != 4 {
		t.Errorf("figures %+v", f)
	}
}

func TestTrackerLossAndLateReply(t *testing.T) {
	var tr tracker
	i := send(t, &tr, 0)
	tr.reply(i, 5*time.Millisecond, at(5))
	lostSlot := send(t, &tr, 20)
	// Unanswered past the timeout (SRTT + 4 RTTVAR: 15 ms after one 5 ms
	// reply): lost.
	if got := tr.lossTimeout(); got != 15*time.Millisecond {
		t.Fatalf("timeout %v after one 5 ms reply, want 15 ms", got)
	}
	if s := tr.expire(at(20 + 15)); len(s) != 0 {
		t.Fatalf("expired too early: %v", s)
	}
	s := tr.expire(at(20 + 16))
	if len(s) != 1 || !s[0].Lost {
		t.Fatalf("expire: %v, want one loss", s)
	}
	if tr.fig.Loss != 0.5 || tr.fig.Decided != 2 {
		t.Fatalf("loss %v over %d, want 0.5 over 2", tr.fig.Loss, tr.fig.Decided)
	}
	if len(tr.expire(at(300))) != 0 {
		t.Error("a loss counted twice")
	}
	// The reply comes after all: late, and no longer a loss.
	smp, ok := tr.reply(lostSlot, 300*time.Millisecond, at(320))
	if !ok || !smp.Late || smp.RTT != 300*time.Millisecond {
		t.Fatalf("late reply: %+v %v", smp, ok)
	}
	if tr.fig.Loss != 0 {
		t.Errorf("loss %v after the late reply, want 0", tr.fig.Loss)
	}
	if _, ok := tr.reply(lostSlot, time.Millisecond, at(330)); ok {
		t.Error("a duplicate reply was taken")
	}
}

func TestTrackerWindowFullWaits(t *testing.T) {
	var tr tracker
	// A link that answered once, then died, probed fast: every slot in
	// flight, then the prober waits.
	tr.observe(time.Millisecond)
	for k := 0; k < Slots; k++ {
		send(t, &tr, k)
	}
	if _, ok := tr.next(at(Slots)); ok {
		t.Fatal("a slot was free with all in flight")
	}
	if tr.inFlight() != Slots {
		t.Fatalf("in flight %d", tr.inFlight())
	}
	// Past forget (500 ms at the floor) the oldest slot is taken again.
	if _, ok := tr.next(at(499)); ok {
		t.Fatal("a slot was reused before forget")
	}
	i, ok := tr.next(at(501))
	if !ok || i != 0 {
		t.Fatalf("after forget: slot %d %v, want 0", i, ok)
	}
	tr.expire(at(Slots + 201))
	if tr.fig.Loss != 1 || tr.fig.Decided != Slots {
		t.Errorf("dead link: loss %v over %d", tr.fig.Loss, tr.fig.Decided)
	}
}

func TestTrackerRTTLongerThanInterval(t *testing.T) {
	// 300 ms RTT at a 20 ms interval: replies match their own probes.
	var tr tracker
	sentAt := map[int]int{}
	for k := 0; k < 300/20; k++ {
		sentAt[send(t, &tr, k*20)] = k * 20
	}
	for slot, ms := range sentAt {
		smp, ok := tr.reply(slot, 300*time.Millisecond, at(ms+300))
		if !ok || smp.RTT != 300*time.Millisecond {
			t.Fatalf("slot %d: %+v %v", slot, smp, ok)
		}
	}
	if tr.fig.RTTSmoothed != 300*time.Millisecond || tr.fig.Loss != 0 {
		t.Errorf("figures %+v", tr.fig)
	}
}

func TestTrackerWindowBounds(t *testing.T) {
	var tr tracker
	for k := 0; k < 3*lossWindowCount; k++ {
		tr.expire(at(k * 20)) // the prober expires before every send
		i := send(t, &tr, k*20)
		if k%2 == 0 {
			tr.reply(i, time.Millisecond, at(k*20+1))
		}
	}
	tr.expire(at(3*lossWindowCount*20 + 500))
	if tr.fig.Decided != lossWindowCount {
		t.Errorf("window holds %d, want %d", tr.fig.Decided, lossWindowCount)
	}
	if math.Abs(tr.fig.Loss-0.5) > 0.1 { // losses are decided later than replies
		t.Errorf("loss %v, want about 0.5", tr.fig.Loss)
	}
	tr.expire(at(3*lossWindowCount*20 + 500 + int(lossWindowAge/time.Millisecond)))
	if tr.fig.Decided != 0 {
		t.Errorf("after %v: %d decided remain", lossWindowAge, tr.fig.Decided)
	}
}

func TestProbeFrame(t *testing.T) {
	base, err := NewProbeMAC()
	if err != nil {
		t.Fatal(err)
	}
	if base[0]&0x03 != 0x02 || base[5]&(Slots-1) != 0 {
		t.Fatalf("probe MAC %s: not LAA unicast with clear slot bits", base)
	}
	f := probeFrame(broadcast, base, 5, mustAddr(t, "10.8.0.254"))
	want := append(append([]byte{}, broadcast...), slotMAC(base, 5)...)
	want = append(want, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1)
	want = append(want, slotMAC(base, 5)...)
	want = append(want, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 8, 0, 254)
	if string(f) != string(want) {
		t.Errorf("frame\n% x\nwant\n% x", f, want)
	}
}

// TestTrackerWarmUp: probes unanswered before the link's first reply (the
// tunnel still handshaking) are not losses.
func TestTrackerWarmUp(t *testing.T) {
	var tr tracker
	for k := 0; k < 20; k++ {
		tr.expire(at(k * 20))
		send(t, &tr, k*20)
	}
	if s := tr.expire(at(1000)); len(s) != 0 || tr.fig.Decided != 0 {
		t.Fatalf("warm-up losses counted: %v, %d decided", s, tr.fig.Decided)
	}
	i := send(t, &tr, 1000)
	tr.reply(i, time.Millisecond, at(1001))
	send(t, &tr, 1020)
	if s := tr.expire(at(1300)); len(s) != 1 || tr.fig.Loss != 0.5 {
		t.Errorf("after the first reply a loss counts: %v, loss %v", s, tr.fig.Loss)
	}
}

// TestTrackerFirstSentAfter: the first probe after a reply is found among
// many in flight, also one whose send failed; none when nothing was sent,
// and a slot reused for a new probe moves nothing older than it.
func TestTrackerFirstSentAfter(t *testing.T) {
	var tr tracker
	i := send(t, &tr, 0)
	tr.reply(i, 5*time.Millisecond, at(5))
	if got := tr.firstSentAfter(at(5)); !got.IsZero() {
		t.Errorf("nothing sent after the reply: got %v", got)
	}
	failed := send(t, &tr, 20)
	tr.failed(failed, at(20))
	for ms := 40; ms <= 200; ms += 20 {
		send(t, &tr, ms)
	}
	if got := tr.firstSentAfter(at(5)); !got.Equal(at(20)) {
		t.Errorf("first after the reply at 5 ms: %v, want the failed send at 20 ms", got.Sub(t0))
	}
	if got := tr.firstSentAfter(at(100)); !got.Equal(at(120)) {
		t.Errorf("first after 100 ms: %v, want 120 ms", got.Sub(t0))
	}
	if got := tr.firstSentAfter(at(200)); !got.IsZero() {
		t.Errorf("first after the last send: %v, want none", got.Sub(t0))
	}
}

// TestTrackerTick: a tick counts the expired probes before it sends the
// next one, through the exported Tracker as the failover replay uses it.
func TestTrackerTick(t *testing.T) {
	var tr Tracker
	lost, first, ok := tr.Tick(at(0), 20*time.Millisecond, false)
	if len(lost) != 0 || !ok {
		t.Fatalf("first tick: lost %v, sent %v", lost, ok)
	}
	if _, ok := tr.Reply(first, 10*time.Millisecond, at(10)); !ok {
		t.Fatal("reply not taken")
	}
	_, unanswered, _ := tr.Tick(at(20), 20*time.Millisecond, false)
	if got := tr.FirstSentAfter(at(10)); !got.Equal(at(20)) {
		t.Errorf("first sent after the reply: %v, want %v", got, at(20))
	}
	// 200 ms (the timeout's floor) after it left, the next tick counts it
	// lost first.
	lost, _, ok = tr.Tick(at(20+201), 20*time.Millisecond, false)
	if len(lost) != 1 || !lost[0].Lost || !ok {
		t.Fatalf("tick past the timeout: lost %v, sent %v", lost, ok)
	}
	if f := tr.Figures(); f.Decided != 2 || f.Loss != 0.5 || f.RTTSmoothed != 10*time.Millisecond {
		t.Errorf("figures %+v", f)
	}
	if smp, ok := tr.Reply(unanswered, 300*time.Millisecond, at(320)); !ok || !smp.Late {
		t.Errorf("late reply: %+v %v", smp, ok)
	}
	if WakeGap(20*time.Millisecond) != 40*time.Millisecond || WakeGap(5*time.Second) != 0 {
		t.Errorf("wake gaps %v, %v", WakeGap(20*time.Millisecond), WakeGap(5*time.Second))
	}
}

// TestTrackerOutageIsNotLoss: the probes lost in a silence of a second or
// more leave the loss window when the link answers again; a few losses in
// a row (random loss) stay.
func TestTrackerOutageIsNotLoss(t *testing.T) {
	var tr tracker
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	send := func(ms int) int {
		i, ok := tr.next(at(ms))
		if !ok {
			t.Fatalf("no slot at %d ms", ms)
		}
		tr.sent(i, at(ms))
		return i
	}
	for ms := 0; ms < 400; ms += 20 { // answered
		tr.reply(send(ms), time.Millisecond, at(ms+1))
	}
	for ms := 400; ms < 460; ms += 20 { // three lost in a row: random loss
		send(ms)
		tr.expire(at(ms + 300))
	}
	tr.reply(send(460), time.Millisecond, at(461))
	if tr.fig.Loss == 0 {
		t.Fatalf("three losses in a row dropped: %+v", tr.fig)
	}
	for ms := 480; ms < 1700; ms += 20 { // 1.2 s of silence: an outage
		send(ms)
		tr.expire(at(ms + 300))
	}
	tr.reply(send(2000), time.Millisecond, at(2001))
	if tr.fig.Loss != 0 || tr.fig.Decided != 1 {
		t.Fatalf("after an outage: loss %.2f over %d probes, want the outage's losses gone", tr.fig.Loss, tr.fig.Decided)
	}
}
