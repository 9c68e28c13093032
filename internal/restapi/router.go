package restapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/multilink/multilink/internal/webui"
)

// minTokenLen is the length below which a token is accepted with a warning.
const minTokenLen = 16

// handler holds the handlers' dependencies.
type handler struct {
	d       Deps
	log     *slog.Logger
	maxBody int64
	limiter *limiter
}

// NewRouter builds the HTTP API on d. It refuses to build an API without
// authentication unless d.Insecure says so. Gin runs in release mode
// unless GIN_MODE or gin.SetMode chose otherwise.
func NewRouter(d Deps) (*gin.Engine, error) {
	if err := check(d); err != nil {
		return nil, err
	}
	a := &handler{d: d, log: d.Logger, maxBody: d.MaxBody, limiter: newLimiter(d.MaxInFlight)}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.maxBody == 0 {
		a.maxBody = DefaultMaxBody
	}
	if a.d.Version == "" {
		a.d.Version = "dev"
	}
	if d.Token == "" {
		a.log.Warn("API authentication is off: every endpoint is open")
	} else if len(d.Token) < minTokenLen {
		a.log.Warn("API token is short; use at least 16 random characters", "length", len(d.Token))
	}

	if os.Getenv(gin.EnvGinMode) == "" && gin.Mode() == gin.DebugMode {
		gin.SetMode(gin.ReleaseMode)
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// Names with an escaped '/' reach the name check (400), not the 404.
	r.UseRawPath = true
	r.UnescapePathValues = true
	if err := r.SetTrustedProxies(nil); err != nil {
		return nil, fmt.Errorf("set trusted proxies: %w", err)
	}
	r.Use(a.requestLog, a.recovery, a.headers, a.limit)
	r.NoRoute(a.noRoute)
	r.NoMethod(a.noMethod)
	a.routes(r)
	return r, nil
}

func check(d Deps) error {
	var missing []string
	if d.Hub == nil {
		missing = append(missing, "Hub")
	}
	if d.Gateway == nil {
		missing = append(missing, "Gateway")
	}
	if d.Taps == nil {
		missing = append(missing, "Taps")
	}
	if d.Pinger == nil {
		missing = append(missing, "Pinger")
	}
	if d.Health == nil {
		missing = append(missing, "Health")
	}
	if d.Links == nil {
		missing = append(missing, "Links")
	}
	if d.Failover == nil {
		missing = append(missing, "Failover")
	}
	if len(missing) > 0 {
		return fmt.Errorf("api deps: %s missing", strings.Join(missing, ", "))
	}
	if d.Token == "" && !d.Insecure {
		return errors.New("api deps: no token, and Insecure is not set (refusing to serve an open API)")
	}
	for i := 0; i < len(d.Token); i++ {
		if c := d.Token[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("api deps: token has a space, control or non-ASCII byte at %d", i)
		}
	}
	if d.MaxBody < 0 {
		return fmt.Errorf("api deps: MaxBody %d is negative", d.MaxBody)
	}
	return nil
}

// routes registers the spec's endpoints. auth guards every mutation and
// the link key; reads stay open.
func (a *handler) routes(r *gin.Engine) {
	auth := a.auth

	v1 := r.Group("/v1")
	v1.POST("/server/start", auth, a.serverStart)
	v1.GET("/server/key", auth, a.serverKey)
	v1.POST("/server/stop/:bridge_interface", auth, a.serverStop)
	v1.GET("/server/status", a.serverStatus)
	v1.POST("/server/claim", auth, a.serverClaim)
	v1.POST("/server/release/:bridge_interface", auth, a.serverRelease)
	v1.POST("/server/rotate/:bridge_interface", auth, a.serverRotate)

	v1.POST("/client/start", auth, a.clientStart)
	v1.GET("/client/status", a.clientStatus)
	v1.POST("/client/stop/:bond_interface", auth, a.clientStop)
	v1.POST("/client/rotate/:bond_interface", auth, a.clientRotate)
	v1.PUT("/client/bond_params/:bond_interface", auth, a.setBondParams)
	v1.GET("/client/bond_params/:bond_interface", a.bondParams)
	v1.GET("/client/links", a.links)
	v1.GET("/client/events", a.events)
	v1.GET("/client/policy/:bond_interface", a.policy)
	v1.PUT("/client/policy/:bond_interface", auth, a.setPolicy)

	v1.POST("/tap_down/:tap", auth, a.tapDown)
	v1.POST("/tap_up/:tap", auth, a.tapUp)
	v1.POST("/ping_test", auth, a.pingTest)
	v1.GET("/api-export", a.apiExport)

	r.GET("/version", a.version)
	r.GET("/health", a.health)
	r.GET("/helth", a.health) // the spec's spelling
	if a.d.Metrics != nil {
		r.GET("/metrics", gin.WrapH(a.d.Metrics))
	}
	// The web page (package webui): it reads the API like any client.
	page := gin.WrapH(webui.Handler())
	r.GET(webui.Prefix+"*file", page)
	r.HEAD(webui.Prefix+"*file", page)
	r.GET(strings.TrimSuffix(webui.Prefix, "/"), func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, webui.Prefix) })
}
