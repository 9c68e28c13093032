package api

import (
	"net/netip"
	"time"
)

// Defaults and bounds of a Request.
const (
	DefaultPingCount    = 4
	DefaultPingInterval = 200  // ms
	DefaultPingTimeout  = 2000 // ms

	MinPingCount, MaxPingCount       = 1, 100
	MinPingInterval, MaxPingInterval = 10, 10000  // ms
	MinPingTimeout, MaxPingTimeout   = 100, 30000 // ms

	// MaxPingDuration bounds a whole test: (count-1)*interval + timeout.
	MaxPingDuration = 60 * time.Second
)

// PingRequest is the body of POST /v1/ping_test. Zero fields take the defaults.
type PingRequest struct {
	IP       netip.Addr // IPv4 or IPv6 target (an IPv6 link-local one may carry a %zone)
	Count    int        // echo requests to send (default 4, 1..100)
	Interval int        // ms between requests (default 200, 10..10000)
	Timeout  int        // ms to wait for the last reply (default 2000, 100..30000)
}

// PingResult is what a ping test measured.
type PingResult struct {
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
