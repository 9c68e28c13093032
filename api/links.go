package api

// LinkStats is one link as the probe measures it: an item of GET
// /v1/client/links. Times are milliseconds; null where there is nothing
// to tell yet.
type LinkStats struct {
	Bond         string       `json:"bond"`
	Link         string       `json:"link"`
	Ifindex      int          `json:"ifindex"`
	Attach       string       `json:"attach"` // tcx or legacy
	Active       bool         `json:"active"` // probed at the active link's interval
	Idle         bool         `json:"idle"`   // active, sending no data: probed at the idle interval
	IntervalMs   float64      `json:"probe_interval_ms"`
	RTT          LinkRTT      `json:"rtt"`
	Loss         float64      `json:"loss"`
	LossSamples  int          `json:"loss_samples"`
	InFlight     int          `json:"in_flight"`
	LastReplyAge *float64     `json:"last_reply_age_ms"` // null: no reply yet
	LastRxAge    *float64     `json:"last_rx_age_ms"`    // null: nothing received yet
	Counters     LinkCounters `json:"counters"`
	Histogram    []RTTBucket  `json:"rtt_histogram"`
	RTTSumMs     float64      `json:"rtt_sum_ms"`
	SendError    string       `json:"send_error,omitempty"` // the latest send's error, if it failed
}

// LinkRTT is a link's round-trip time figures; all null before its first
// reply.
type LinkRTT struct {
	Last     *float64 `json:"last_ms"`     // the latest sample
	Smoothed *float64 `json:"smoothed_ms"` // SRTT, RFC 6298
	Var      *float64 `json:"var_ms"`      // RTTVAR, RFC 6298
	Jitter   *float64 `json:"jitter_ms"`   // RFC 3550 interarrival jitter
}

// RTTBucket is one bucket of a link's RTT histogram (not cumulative):
// replies below LeMs and at or above the previous bucket's bound.
type RTTBucket struct {
	LeMs  *float64 `json:"le_ms"` // null: +Inf
	Count uint64   `json:"count"`
}

// LinkCounters are a link's kernel counters (bpf/probe.c).
type LinkCounters struct {
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
