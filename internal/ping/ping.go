package ping

import (
	"net/netip"
	"time"
)

// Defaults and bounds of a Request.
const (
	DefaultCount    = 4
	DefaultInterval = 200  // ms
	DefaultTimeout  = 2000 // ms

	MinCount, MaxCount       = 1, 100
	MinInterval, MaxInterval = 10, 10000  // ms
	MinTimeout, MaxTimeout   = 100, 30000 // ms

	// MaxDuration bounds a whole test: (count-1)*interval + timeout.
	MaxDuration = 60 * time.Second
)

// Request is the body of POST /v1/ping_test. Zero fields take the defaults.
type Request struct {
	IP       netip.Addr // IPv4 or IPv6 target (an IPv6 link-local one may carry a %zone)
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
	// SendError is the last error sending an echo request (e.g. "network
	// is unreachable"); when nothing could be sent, Sent is 0 and
	// LossPercent 100.
	SendError string `json:"send_error,omitempty"`
}
