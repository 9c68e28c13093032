package restapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/multilink/multilink/api"
)

// auth requires "Authorization: Bearer <token>" when a token is set. Both
// sides are hashed before the constant-time compare, so neither the
// token's bytes nor its length leak through timing. The token and the
// header are never logged.
func (a *handler) auth(c *gin.Context) {
	if a.d.Token == "" {
		c.Next()
		return
	}
	h := strings.TrimSpace(c.GetHeader("Authorization"))
	scheme, given, _ := strings.Cut(h, " ")
	switch {
	case h == "":
		a.unauthorized(c, "missing", `Bearer realm="multilink"`, "this endpoint needs an Authorization: Bearer <token> header")
	case !strings.EqualFold(scheme, "Bearer"):
		a.unauthorized(c, "wrong scheme", `Bearer realm="multilink", error="invalid_request"`, "the Authorization header must use the Bearer scheme")
	case !tokenEqual(strings.TrimSpace(given), a.d.Token):
		a.unauthorized(c, "wrong token", `Bearer realm="multilink", error="invalid_token"`, "the bearer token is wrong")
	default:
		c.Next()
	}
}

func tokenEqual(given, want string) bool {
	g := sha256.Sum256([]byte(given))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

func (a *handler) unauthorized(c *gin.Context, reason, challenge, msg string) {
	a.log.Warn("API request refused", "reason", reason, "method", c.Request.Method,
		"path", c.Request.URL.Path, "remote", c.ClientIP())
	c.Header("WWW-Authenticate", challenge)
	c.AbortWithStatusJSON(http.StatusUnauthorized, api.Error{Error: msg})
}
