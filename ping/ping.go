package ping

import "net/netip"

// Request is the body of POST /v1/ping_test.
type Request struct {
	IP       netip.Addr // IPv4 or IPv6 target
	Count    int        // echo requests to send (default 4, 1..100)
	Interval int        // ms between requests (default 200, 10..10000)
	Timeout  int        // ms to wait for the last reply (default 2000, 100..30000)
}

// Result is what a ping test measured.
type Result struct {
	IP          string  `json:"ip"`
	Sent        int     `json:"sent"`
	Received    int     `json:"received"`
	LossPercent float64 `json:"loss_percent"`
	MinMs       float64 `json:"rtt_min_ms"`
	AvgMs       float64 `json:"rtt_avg_ms"`
	MaxMs       float64 `json:"rtt_max_ms"`
	StddevMs    float64 `json:"rtt_stddev_ms"`
}
