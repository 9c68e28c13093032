package probe

import (
	"math"
	"time"

	"github.com/multilink/multilink/api"
)

// Defaults of Options.
const (
	DefaultInterval       = 20 * time.Millisecond // the active link
	DefaultBackupInterval = 5 * time.Second       // standby links: a few MB a day (docs/benchmarks.md)
	// DefaultIdleInterval is the daemon's idle interval (Options): the
	// active link's while it carries no data (nothing sent for
	// IdleAfter), about 600 B/s of probes where 20 ms cost 15 KB/s.
	DefaultIdleInterval = 500 * time.Millisecond
	// IdleAfter is how long the active link must send no data to be
	// probed at the idle interval; data sent after such a silence brings
	// the active interval back at once (the kernel tells, on kernels with
	// a ring buffer, 5.8+; else at the next idle probe).
	IdleAfter   = time.Second
	MinInterval = 5 * time.Millisecond
	MaxInterval = time.Minute
)

// Bucket is one RTT histogram bucket: replies with an RTT below UpperBound
// (and at or above the previous bucket's bound); the last one's bound is +Inf.
type Bucket struct {
	UpperBound time.Duration
	Count      uint64
}

// LinkStats is one link as the probe sees it.
type LinkStats struct {
	Bond     string
	Link     string
	Ifindex  int
	Attach   string // tcx or legacy
	Active   bool   // probed at the active link's interval
	Idle     bool   // active, but sending no data: probed at the idle interval
	Interval time.Duration
	Figures
	InFlight     int
	LastReplyAge time.Duration // -1: no reply yet
	LastRxAge    time.Duration // -1: nothing received yet
	Counters     api.LinkCounters
	Histogram    []Bucket // not cumulative
	RTTSum       time.Duration
	SendError    string // the last error sending a probe, if the latest send failed
}

// API is s as the API shows it (GET /v1/client/links).
func (s LinkStats) API() api.LinkStats {
	hist := make([]api.RTTBucket, len(s.Histogram))
	for i, b := range s.Histogram {
		hist[i].Count = b.Count
		if b.UpperBound > 0 {
			hist[i].LeMs = msPtr(b.UpperBound)
		}
	}
	var rtt api.LinkRTT
	if s.HasRTT {
		rtt = api.LinkRTT{Last: msPtr(s.RTTLast), Smoothed: msPtr(s.RTTSmoothed), Var: msPtr(s.RTTVar), Jitter: msPtr(s.Jitter)}
	}
	return api.LinkStats{Bond: s.Bond, Link: s.Link, Ifindex: s.Ifindex, Attach: s.Attach, Active: s.Active, Idle: s.Idle,
		IntervalMs: ms(s.Interval), RTT: rtt, Loss: round3(s.Loss), LossSamples: s.Decided, InFlight: s.InFlight,
		LastReplyAge: agePtr(s.LastReplyAge), LastRxAge: agePtr(s.LastRxAge), Counters: s.Counters,
		Histogram: hist, RTTSumMs: ms(s.RTTSum), SendError: s.SendError}
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func msPtr(d time.Duration) *float64 { v := ms(d); return &v }

func agePtr(d time.Duration) *float64 {
	if d < 0 {
		return nil
	}
	return msPtr(d)
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
