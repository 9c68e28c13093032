package probe

import (
	"encoding/json"
	"math"
	"time"
)

// Defaults of Options.
const (
	DefaultInterval       = 20 * time.Millisecond // the active link
	DefaultBackupInterval = 5 * time.Second       // standby links: a few MB a day (docs/benchmarks.md)
	MinInterval           = 5 * time.Millisecond
	MaxInterval           = time.Minute
)

// Counters are a link's kernel counters (bpf/probe.c).
type Counters struct {
	RxFrames     uint64 `json:"rx_frames"`
	RxBytes      uint64 `json:"rx_bytes"`
	TxFrames     uint64 `json:"tx_frames"`
	TxBytes      uint64 `json:"tx_bytes"`
	ArpRequests  uint64 `json:"arp_requests"`  // to the target, ours and the bond's
	ArpReplies   uint64 `json:"arp_replies"`   // from the target, to anyone
	ProbesSent   uint64 `json:"probes_sent"`   // ours
	ProbeReplies uint64 `json:"probe_replies"` // to ours, each with an RTT
	Malformed    uint64 `json:"malformed"`
	VLAN         uint64 `json:"vlan"`
}

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
	Interval time.Duration
	Figures
	InFlight     int
	LastReplyAge time.Duration // -1: no reply yet
	LastRxAge    time.Duration // -1: nothing received yet
	Counters     Counters
	Histogram    []Bucket // not cumulative
	RTTSum       time.Duration
	SendError    string // the last error sending a probe, if the latest send failed
}

// MarshalJSON writes durations as float milliseconds (null for "never").
func (s LinkStats) MarshalJSON() ([]byte, error) {
	type bucket struct {
		LeMs  *float64 `json:"le_ms"` // null: +Inf
		Count uint64   `json:"count"`
	}
	hist := make([]bucket, len(s.Histogram))
	for i, b := range s.Histogram {
		hist[i].Count = b.Count
		if b.UpperBound > 0 {
			hist[i].LeMs = msPtr(b.UpperBound)
		}
	}
	var rtt struct {
		Last     *float64 `json:"last_ms"`
		Smoothed *float64 `json:"smoothed_ms"`
		Var      *float64 `json:"var_ms"`
		Jitter   *float64 `json:"jitter_ms"`
	}
	if s.HasRTT {
		rtt.Last, rtt.Smoothed, rtt.Var, rtt.Jitter = msPtr(s.RTTLast), msPtr(s.RTTSmoothed), msPtr(s.RTTVar), msPtr(s.Jitter)
	}
	return json.Marshal(struct {
		Bond         string   `json:"bond"`
		Link         string   `json:"link"`
		Ifindex      int      `json:"ifindex"`
		Attach       string   `json:"attach"`
		Active       bool     `json:"active"`
		IntervalMs   float64  `json:"probe_interval_ms"`
		RTT          any      `json:"rtt"`
		Loss         float64  `json:"loss"`
		LossSamples  int      `json:"loss_samples"`
		InFlight     int      `json:"in_flight"`
		LastReplyAge *float64 `json:"last_reply_age_ms"`
		LastRxAge    *float64 `json:"last_rx_age_ms"`
		Counters     Counters `json:"counters"`
		Histogram    []bucket `json:"rtt_histogram"`
		RTTSumMs     float64  `json:"rtt_sum_ms"`
		SendError    string   `json:"send_error,omitempty"`
	}{s.Bond, s.Link, s.Ifindex, s.Attach, s.Active, ms(s.Interval), rtt, round3(s.Loss), s.Decided, s.InFlight,
		agePtr(s.LastReplyAge), agePtr(s.LastRxAge), s.Counters, hist, ms(s.RTTSum), s.SendError})
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
