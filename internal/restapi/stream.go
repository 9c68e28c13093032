package restapi

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/multilink/multilink/api"
)

// eventsPath is the one endpoint that streams.
const eventsPath = "/v1/client/events"

// MaxStreams bounds the event streams open at once. A stream lasts as
// long as its client wants, so it holds none of the request slots (a few
// watchers would otherwise starve the API) but one of these.
const MaxStreams = 16

// keepAlive is how often an idle stream gets a comment line: proxies and
// clients see the connection alive, and a gone client is noticed.
const keepAlive = 15 * time.Second

// writeWithin bounds each write to a stream: a client that reads nothing
// for this long is dropped.
const writeWithin = 2 * keepAlive

// wantsStream reports whether the request asks for server-sent events.
func wantsStream(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if t, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && t == "text/event-stream" {
			return true
		}
	}
	return false
}

// streamEvents answers GET /v1/client/events with Accept:
// text/event-stream: the kept events (as limit says), then each new one as
// the engine adds it, as server-sent events ("event: switch" or "event:
// state", "data:" the JSON object the list holds), until the client goes.
// A client that falls too far behind gets "event: missed" once: some
// events were dropped for it (GET the list again).
func (a *handler) streamEvents(c *gin.Context, bond string, limit int) {
	ctx := c.Request.Context()
	past, next, missed := a.d.Failover.WatchEvents(ctx, bond, limit)
	rc := http.NewResponseController(c.Writer)
	// The server's read timeout is for requests; a stream lives on. Each
	// write gets a deadline of its own: a client that stops reading loses
	// its stream (and its slot) instead of holding it for good.
	if err := rc.SetReadDeadline(time.Time{}); err != nil {
		a.log.Debug("event stream: clear the read deadline", "err", err)
	}
	deadline := func() bool {
		err := rc.SetWriteDeadline(time.Now().Add(writeWithin))
		if err != nil {
			a.log.Debug("event stream: set the write deadline", "err", err)
		}
		return err == nil
	}
	if !deadline() {
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // a proxy in front must not hold it
	c.Status(http.StatusOK)
	write := func(e api.Event) bool {
		data, err := json.Marshal(e)
		if err != nil {
			a.log.Error("event stream: encode", "err", err)
			return false
		}
		_, err = fmt.Fprintf(c.Writer, "event: %s\ndata: %s\n\n", e.Kind, data)
		return err == nil
	}
	for _, e := range past {
		if !write(e) {
			return
		}
	}
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	told := false
	for {
		select {
		case e, ok := <-next:
			if !ok {
				return // the client went, or the daemon stops
			}
			if !deadline() || !write(e) {
				return
			}
			if !told && missed() {
				told = true
				if _, err := fmt.Fprint(c.Writer, "event: missed\ndata: {}\n\n"); err != nil {
					return
				}
			}
		case <-tick.C:
			if !deadline() {
				return
			}
			if _, err := fmt.Fprint(c.Writer, ": keep-alive\n\n"); err != nil {
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}
