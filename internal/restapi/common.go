package restapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/multilink/multilink/api"
)

// tapState is the answer of tap_up and tap_down.
type tapState struct {
	Tap string `json:"tap"`
	Up  bool   `json:"up"`
}

// versionBody is the body of GET /version.
type versionBody struct {
	Version string `json:"version"`
}

func (a *handler) tapDown(c *gin.Context) { a.setTap(c, false) }
func (a *handler) tapUp(c *gin.Context)   { a.setTap(c, true) }

// setTap: POST /v1/tap_{up,down}/{tap}. Only TAPs of this daemon (404
// otherwise). A body, if any, is ignored.
func (a *handler) setTap(c *gin.Context, up bool) {
	op := "bring tap down"
	if up {
		op = "bring tap up"
	}
	tap, err := ifName(c, "tap")
	if err != nil {
		a.fail(c, op, err)
		return
	}
	if err := a.d.Taps.SetTap(c.Request.Context(), tap, up); err != nil {
		a.fail(c, op+" "+tap, err)
		return
	}
	c.JSON(http.StatusOK, tapState{Tap: tap, Up: up})
}

// pingTest: POST /v1/ping_test {"ip": ...}.
func (a *handler) pingTest(c *gin.Context) {
	var req api.PingRequest
	if err := a.decodeBody(c, &req); err != nil {
		a.fail(c, "ping test", err)
		return
	}
	res, err := a.d.Pinger.Ping(c.Request.Context(), req)
	if err != nil {
		a.fail(c, "ping test to "+req.IP.String(), err)
		return
	}
	c.JSON(http.StatusOK, res)
}

// version: GET /version.
func (a *handler) version(c *gin.Context) {
	c.JSON(http.StatusOK, versionBody{Version: a.d.Version})
}

// health: GET /health and /helth. 200 when ok or degraded, 503 when down
// (and for a status it does not know, to fail safe).
func (a *handler) health(c *gin.Context) {
	rep := a.d.Health.Health(c.Request.Context())
	rep.Warnings = append(rep.Warnings, a.warnings(c)...)
	if rep.Checks == nil {
		rep.Checks = []api.HealthCheck{}
	}
	status := http.StatusOK
	switch rep.Status {
	case api.StatusOK, api.StatusDegraded:
	case api.StatusDown:
		status = http.StatusServiceUnavailable
	default:
		a.log.Error("health report with an unknown status", "status", rep.Status)
		status = http.StatusServiceUnavailable
	}
	c.JSON(status, rep)
}

// warnings is what Deps.Warnings lists now (nil without it).
func (a *handler) warnings(c *gin.Context) []string {
	if a.d.Warnings == nil {
		return nil
	}
	return a.d.Warnings(c.Request.Context())
}
