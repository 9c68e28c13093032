package restapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// decodeBody reads the request body, at most a.maxBody bytes, and decodes
// it as JSON into dst, whose UnmarshalJSON validates. The Content-Type is
// not checked (the spec's clients may omit it); the body must be JSON. Every
// error is errkind.KindInvalid except a body that is too large
// (*http.MaxBytesError, 413).
func (a *handler) decodeBody(c *gin.Context, dst any) error {
	data, err := a.readBody(c)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return errkind.Invalid("", "a JSON request body is required")
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return bodyError(err)
	}
	return nil
}

// bodyError is a body's decoding error as errkind.KindInvalid.
func bodyError(err error) error {
	var fe *errkind.Error
	if errors.As(err, &fe) {
		return err
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return errkind.Invalid("", "the request body is not valid JSON (byte %d): %v", se.Offset, err)
	}
	return errkind.Invalid("", "the request body does not decode: %v", err)
}

// ifName returns path parameter name after checking it is a valid
// interface name (400 otherwise).
func ifName(c *gin.Context, param string) (string, error) {
	name := c.Param(param)
	if err := api.CheckIfName(param, name); err != nil {
		return "", err
	}
	return name, nil
}

// readBody reads a size-limited, non-empty request body.
func (a *handler) readBody(c *gin.Context) ([]byte, error) {
	if c.Request.Body == nil {
		return nil, errkind.Invalid("", "a JSON request body is required")
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, a.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, err
		}
		return nil, errkind.Invalid("", "read the request body: %v", err)
	}
	if len(data) == 0 {
		return nil, errkind.Invalid("", "a JSON request body is required")
	}
	return data, nil
}
