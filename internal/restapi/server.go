package restapi

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/multilink/multilink/api"
)

// serverStatus is the body of GET /v1/server/status.
type serverStatus struct {
	Started bool               `json:"started"` // at least one bridge is served (pending ones do not count)
	Servers []api.ServerStatus `json:"servers"`
	// Warnings: see api.HealthReport.Warnings.
	Warnings []string `json:"warnings,omitempty"`
}

// stopped is the answer of a stop.
type stopped struct {
	Stopped string `json:"stopped"`
}

// serverStart: POST /v1/server/start, the spec's body. 200 with the new
// bridge's status; 409 if that bridge is served already.
func (a *handler) serverStart(c *gin.Context) {
	var cfg api.Server
	if err := a.decodeBody(c, &cfg); err != nil {
		a.fail(c, "start server", err)
		return
	}
	st, err := a.d.Hub.Start(c.Request.Context(), cfg)
	if err != nil {
		a.fail(c, "start server "+cfg.BridgeInterface, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

// serverKey: GET /v1/server/key[?bridge=br0], the link key a gateway needs.
func (a *handler) serverKey(c *gin.Context) {
	bridge, ok := c.GetQuery("bridge")
	if ok {
		if err := api.CheckIfName("bridge", bridge); err != nil {
			a.fail(c, "get server key", err)
			return
		}
	}
	k, err := a.d.Hub.Key(c.Request.Context(), bridge)
	if err != nil {
		a.fail(c, "get server key", err)
		return
	}
	c.JSON(http.StatusOK, k)
}

// serverStop: POST /v1/server/stop/{bridge_interface}.
func (a *handler) serverStop(c *gin.Context) {
	name, err := ifName(c, "bridge_interface")
	if err != nil {
		a.fail(c, "stop server", err)
		return
	}
	if err := a.d.Hub.Stop(c.Request.Context(), name); err != nil {
		a.fail(c, "stop server "+name, err)
		return
	}
	c.JSON(http.StatusOK, stopped{Stopped: name})
}

// serverStatus: GET /v1/server/status.
func (a *handler) serverStatus(c *gin.Context) {
	s := a.d.Hub.Status(c.Request.Context())
	if s == nil {
		s = []api.ServerStatus{}
	}
	started := slices.ContainsFunc(s, func(st api.ServerStatus) bool { return st.Pending == "" })
	c.JSON(http.StatusOK, serverStatus{Started: started, Servers: s, Warnings: a.warnings(c)})
}
