package restapi

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/multilink/multilink/api"
)

// recovery turns a panic in a handler into a logged 500 JSON answer.
// http.ErrAbortHandler is passed on: it means "drop the connection".
func (a *handler) recovery(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			panic(v)
		}
		a.log.Error("API handler panicked", "method", c.Request.Method, "path", c.Request.URL.Path,
			"panic", v, "stack", string(debug.Stack()))
		if !c.Writer.Written() {
			c.AbortWithStatusJSON(http.StatusInternalServerError, api.Error{Error: "internal error (details are in the daemon's log)"})
			return
		}
		c.Abort()
	}()
	c.Next()
}

// requestLog logs one line per request: mutations and failures at info
// (5xx at error), successful reads (status polls, probes) at debug. Only
// the path is logged: no query, no headers, so never a token.
func (a *handler) requestLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	status := c.Writer.Status()
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status < 400 && (c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead),
		status == http.StatusTooManyRequests: // counted and warned about by limit
		level = slog.LevelDebug
	}
	a.log.Log(c.Request.Context(), level, "API request",
		"method", c.Request.Method,
		"path", c.Request.URL.Path,
		"status", status,
		"duration", time.Since(start),
		"bytes", c.Writer.Size(),
		"remote", c.ClientIP())
}

// headers marks every answer as not to be cached (the key is a secret,
// status is live) nor sniffed.
func (a *handler) headers(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Next()
}
