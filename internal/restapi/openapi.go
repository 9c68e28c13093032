package restapi

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPI is the API's OpenAPI 3.0 document, written by hand; a test
// checks it against the router both ways.
//
//go:embed openapi.json
var openAPI []byte

// apiExport: GET /v1/api-export.
func (a *handler) apiExport(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", openAPI)
}
