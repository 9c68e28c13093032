package restapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

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

// serverClaim: POST /v1/server/claim, a gateway bond naming itself asks
// for a bridge's links: 200 with the key answer and the holder; 409 when
// another holds them.
func (a *handler) serverClaim(c *gin.Context) {
	var r api.ClaimRequest
	if err := a.decodeBody(c, &r); err != nil {
		a.fail(c, "claim bridge", err)
		return
	}
	k, err := a.d.Hub.Claim(c.Request.Context(), r)
	if err != nil {
		a.fail(c, "claim bridge "+r.Bridge, err)
		return
	}
	c.JSON(http.StatusOK, k)
}

// serverRelease: POST /v1/server/release/{bridge_interface}, with the
// holder's own {"gateway_id", "bond"} or, by the operator, no body.
func (a *handler) serverRelease(c *gin.Context) {
	name, err := ifName(c, "bridge_interface")
	if err != nil {
		a.fail(c, "release bridge", err)
		return
	}
	var who *api.ReleaseRequest
	if c.Request.ContentLength != 0 {
		// Not readBody: an empty body is the operator's release.
		data, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, a.maxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if !errors.As(err, &tooBig) {
				err = errkind.Invalid("", "read the request body: %v", err)
			}
			a.fail(c, "release bridge "+name, err)
			return
		}
		if len(bytes.TrimSpace(data)) > 0 {
			who = new(api.ReleaseRequest)
			if err := json.Unmarshal(data, who); err != nil {
				a.fail(c, "release bridge "+name, bodyError(err))
				return
			}
		}
	}
	out, err := a.d.Hub.Release(c.Request.Context(), name, who)
	if err != nil {
		a.fail(c, "release bridge "+name, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// serverRotate: POST /v1/server/rotate/{bridge_interface}, the holder
// renews one link's secrets: 200 with the link's new certificate
// fingerprint (TLS) or key (static).
func (a *handler) serverRotate(c *gin.Context) {
	name, err := ifName(c, "bridge_interface")
	if err != nil {
		a.fail(c, "rotate link", err)
		return
	}
	var r api.RotateRequest
	if err := a.decodeBody(c, &r); err != nil {
		a.fail(c, "rotate link of bridge "+name, err)
		return
	}
	l, err := a.d.Hub.Rotate(c.Request.Context(), name, r)
	if err != nil {
		a.fail(c, "rotate link of bridge "+name, err)
		return
	}
	c.JSON(http.StatusOK, l)
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
	c.JSON(http.StatusOK, api.ServerStatusResponse{Started: started, Servers: s, Warnings: a.warnings(c)})
}
