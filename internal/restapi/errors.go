package restapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// statusOf maps an error to its HTTP status: one status per fault kind.
func statusOf(err error) int {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge
	}
	switch errkind.KindOf(err) {
	case errkind.KindInvalid:
		return http.StatusBadRequest
	case errkind.KindUnauthorized:
		return http.StatusUnauthorized
	case errkind.KindNotFound:
		return http.StatusNotFound
	case errkind.KindConflict:
		return http.StatusConflict
	case errkind.KindUnavailable:
		// The server API (or a tunnel to it) a client start depends on
		// cannot be reached or answered wrongly: the upstream failed.
		return http.StatusBadGateway
	case errkind.KindStorage:
		// The change could not be saved and was undone: the disk (full,
		// read-only) needs the operator, not a retry.
		return http.StatusInsufficientStorage
	case errkind.KindUnsupported:
		// The host lacks what the request needs (a kernel without the
		// bonding driver): nothing the client can fix by retrying.
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

// fail answers err. op names what was attempted ("start client bond
// bond0"); an internal error's answer says only that, and its details go
// to the log.
func (a *handler) fail(c *gin.Context, op string, err error) {
	status := statusOf(err)
	body := api.Error{Error: err.Error(), Field: errkind.FieldOf(err)}
	switch status {
	case http.StatusInternalServerError:
		a.log.Error("API request failed", "op", op, "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
		body = api.Error{Error: op + ": internal error (details are in the daemon's log)"}
	case http.StatusRequestEntityTooLarge:
		body = api.Error{Error: fmt.Sprintf("request body is larger than %d bytes", a.maxBody)}
	default:
		a.log.Info("API request rejected", "op", op, "status", status, "err", err)
	}
	c.AbortWithStatusJSON(status, body)
}

func (a *handler) noRoute(c *gin.Context) {
	c.JSON(http.StatusNotFound, api.Error{Error: fmt.Sprintf("no endpoint %s %s", c.Request.Method, c.Request.URL.Path)})
}

// noMethod answers 405; gin has set the Allow header.
func (a *handler) noMethod(c *gin.Context) {
	c.JSON(http.StatusMethodNotAllowed, api.Error{Error: fmt.Sprintf("method %s is not allowed on %s (allowed: %s)",
		c.Request.Method, c.Request.URL.Path, c.Writer.Header().Get("Allow"))})
}
