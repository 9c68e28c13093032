package ping

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	probing "github.com/prometheus-community/pro-bing"

	"github.com/multilink/multilink/api"
)

// maxConcurrent bounds the ping tests that run at once (each holds a raw
// socket); more wait for a free slot or their context.
const maxConcurrent = 4

// Pinger runs ping tests with privileged ICMP sockets.
type Pinger struct {
	log *slog.Logger
	sem chan struct{}
}

// New returns a Pinger that logs to log (nil: discard).
func New(log *slog.Logger) *Pinger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pinger{log: log.With("component", "ping"), sem: make(chan struct{}, maxConcurrent)}
}

// Ping sends req.Count echo requests to req.IP and reports what came back.
// It ends early when every reply is in, and returns ctx's error if ctx
// ends first. An invalid req is a fault.KindInvalid error.
func (p *Pinger) Ping(ctx context.Context, req api.PingRequest) (api.PingResult, error) {
	if err := req.Check(); err != nil {
		return api.PingResult{}, err
	}
	r := req.Filled()
	select {
	case p.sem <- struct{}{}:
		defer func() { <-p.sem }()
	case <-ctx.Done():
		return api.PingResult{}, fmt.Errorf("ping %s: %w", r.IP, ctx.Err())
	}

	pr := probing.New(r.IP.String())
	pr.SetPrivileged(true)
	pr.SetLogger(logger{p.log.With("ip", r.IP.String())})
	pr.SetIPAddr(&net.IPAddr{IP: r.IP.AsSlice(), Zone: r.IP.Zone()})
	if r.IP.Is4() {
		pr.SetNetwork("ip4")
	} else {
		pr.SetNetwork("ip6")
	}
	pr.Count = r.Count
	pr.Interval = time.Duration(r.Interval) * time.Millisecond
	pr.Timeout = r.Duration()
	pr.RecordRtts = false
	pr.RecordTTLs = false

	// A send error (no route, a firewall) is part of the result, not a
	// failure of the test; the first send's error also ends the run.
	var mu sync.Mutex
	var sendErr error
	pr.OnSendError = func(_ *probing.Packet, err error) {
		mu.Lock()
		sendErr = err
		mu.Unlock()
	}

	err := pr.RunWithContext(ctx)
	if ctx.Err() != nil {
		return api.PingResult{}, fmt.Errorf("ping %s: %w", r.IP, ctx.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	if err != nil && (sendErr == nil || !errors.Is(err, sendErr)) {
		return api.PingResult{}, fmt.Errorf("ping %s: %w", r.IP, err)
	}
	st := pr.Statistics()
	res := api.PingResult{
		IP:          r.IP.String(),
		Sent:        st.PacketsSent,
		Received:    st.PacketsRecv,
		LossPercent: st.PacketLoss,
		MinMs:       ms(st.MinRtt),
		AvgMs:       ms(st.AvgRtt),
		MaxMs:       ms(st.MaxRtt),
		StddevMs:    ms(st.StdDevRtt),
	}
	if sendErr != nil {
		res.SendError = sendErr.Error()
		if res.Sent == 0 {
			res.LossPercent = 100
		}
	}
	p.log.Debug("ping test", "ip", res.IP, "sent", res.Sent, "received", res.Received, "avg_ms", res.AvgMs)
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// logger puts pro-bing's messages into slog. Its "Fatalf" is not fatal
// (a send error, e.g. no route to the target): it is logged as a warning.
type logger struct{ l *slog.Logger }

func (g logger) Fatalf(format string, v ...any) { g.l.Warn(fmt.Sprintf(format, v...)) }
func (g logger) Errorf(format string, v ...any) { g.l.Warn(fmt.Sprintf(format, v...)) }
func (g logger) Warnf(format string, v ...any)  { g.l.Warn(fmt.Sprintf(format, v...)) }
func (g logger) Infof(format string, v ...any)  { g.l.Info(fmt.Sprintf(format, v...)) }
func (g logger) Debugf(format string, v ...any) { g.l.Debug(fmt.Sprintf(format, v...)) }
