package restapi

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/multilink/multilink/api"
)

// DefaultMaxInFlight bounds the requests the API serves at once: a flood
// is answered 429 at once instead of queueing for the daemon's CPU, which
// the probe and the failover engine need.
const DefaultMaxInFlight = 32

// refusedLogEvery spaces the warnings about refused requests.
const refusedLogEvery = 10 * time.Second

// unlimited are the paths never refused for load: probes and scrapers
// must get their answer.
var unlimited = map[string]bool{"/health": true, "/helth": true, "/metrics": true}

// limiter holds the API's request slots and counts what it refuses.
type limiter struct {
	slots   chan struct{}
	streams chan struct{} // event streams: long, so apart from slots

	mu       sync.Mutex
	refused  int       // since the last warning
	lastWarn time.Time // when it was
}

func newLimiter(n int) *limiter {
	if n <= 0 {
		n = DefaultMaxInFlight
	}
	return &limiter{slots: make(chan struct{}, n), streams: make(chan struct{}, MaxStreams)}
}

// limit answers 429 with Retry-After past the limit of requests in
// flight, except to /health and /metrics.
func (a *handler) limit(c *gin.Context) {
	if unlimited[c.Request.URL.Path] {
		c.Next()
		return
	}
	slots, what := a.limiter.slots, "API requests"
	if c.Request.Method == http.MethodGet && c.Request.URL.Path == eventsPath && wantsStream(c.Request) {
		slots, what = a.limiter.streams, "event streams"
	}
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
		c.Next()
	default:
		a.refuse()
		c.Header("Retry-After", "1")
		c.AbortWithStatusJSON(http.StatusTooManyRequests, api.Error{
			Error: fmt.Sprintf("too many %s at once (%d in flight): retry in a second", what, cap(slots))})
	}
}

// refuse counts a refused request and warns at most every 10 s.
func (a *handler) refuse() {
	l := a.limiter
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refused++
	if now := time.Now(); now.Sub(l.lastWarn) >= refusedLogEvery {
		a.log.Warn("API requests refused: too many at once", "refused", l.refused, "max_in_flight", cap(l.slots))
		l.refused, l.lastWarn = 0, now
	}
}
