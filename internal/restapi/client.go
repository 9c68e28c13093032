package restapi

import (
	"net/http"
	"reflect"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// clientStart: POST /v1/client/start, the spec's body. 200 with the new
// bond's status; 409 if started already; 502 if the hub's API cannot be
// reached or answers wrongly.
func (a *handler) clientStart(c *gin.Context) {
	var cfg api.Client
	if err := a.decodeBody(c, &cfg); err != nil {
		a.fail(c, "start client", err)
		return
	}
	st, err := a.d.Gateway.Start(c.Request.Context(), cfg)
	if err != nil {
		a.fail(c, "start client bond "+cfg.Bond, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

// clientStatus: GET /v1/client/status.
func (a *handler) clientStatus(c *gin.Context) {
	s := a.d.Gateway.Status(c.Request.Context())
	if s == nil {
		s = []api.ClientStatus{}
	}
	started := slices.ContainsFunc(s, func(st api.ClientStatus) bool { return st.Pending == "" })
	c.JSON(http.StatusOK, api.ClientStatusResponse{Started: started, Clients: s, Warnings: a.warnings(c)})
}

// clientStop: POST /v1/client/stop/{bond_interface}.
func (a *handler) clientStop(c *gin.Context) {
	name, err := ifName(c, "bond_interface")
	if err != nil {
		a.fail(c, "stop client", err)
		return
	}
	if err := a.d.Gateway.Stop(c.Request.Context(), name); err != nil {
		a.fail(c, "stop client bond "+name, err)
		return
	}
	c.JSON(http.StatusOK, stopped{Stopped: name})
}

// clientRotate: POST /v1/client/rotate/{bond_interface}, no body: the
// bond renews its links' secrets with its hub, one link at a time.
func (a *handler) clientRotate(c *gin.Context) {
	name, err := ifName(c, "bond_interface")
	if err != nil {
		a.fail(c, "rotate links", err)
		return
	}
	out, err := a.d.Gateway.Rotate(c.Request.Context(), name)
	if err != nil {
		a.fail(c, "rotate the links of bond "+name, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// bondParams: GET /v1/client/bond_params/{bond_interface}, the bond's live
// parameters.
func (a *handler) bondParams(c *gin.Context) {
	name, err := ifName(c, "bond_interface")
	if err != nil {
		a.fail(c, "get bond parameters", err)
		return
	}
	info, err := a.d.Gateway.BondParams(c.Request.Context(), name)
	if err != nil {
		a.fail(c, "get bond parameters of "+name, err)
		return
	}
	c.JSON(http.StatusOK, info)
}

// setBondParams: PUT /v1/client/bond_params/{bond_interface} with any
// non-empty subset of the parameters; 200 with the bond as it is after.
func (a *handler) setBondParams(c *gin.Context) {
	name, err := ifName(c, "bond_interface")
	if err != nil {
		a.fail(c, "set bond parameters", err)
		return
	}
	var p api.BondParams
	if err := a.decodeBody(c, &p); err != nil {
		a.fail(c, "set bond parameters of "+name, err)
		return
	}
	if reflect.ValueOf(p).IsZero() {
		a.fail(c, "set bond parameters of "+name, errkind.Invalid("", "no parameter given (e.g. {\"primary\": \"tap2\"})"))
		return
	}
	info, err := a.d.Gateway.SetBondParams(c.Request.Context(), name, p)
	if err != nil {
		a.fail(c, "set bond parameters of "+name, err)
		return
	}
	c.JSON(http.StatusOK, info)
}
