package apiclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/apitls"
)

// Options say which daemon to talk to.
type Options struct {
	URL   string // http(s)://host:port
	Token string // bearer token, "" for none
	Pin   string // sha256//... of the API's TLS key; "" to trust the system's CAs
	// Timeout bounds each request (not a stream); 0: DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout bounds a request: a daemon busy starting tunnels still
// answers reads at once.
const DefaultTimeout = 10 * time.Second

// Client talks to one daemon.
type Client struct {
	base    *url.URL
	token   string
	timeout time.Duration
	hc      *http.Client
}

// Error is an error answer: its status and the daemon's message.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("the daemon answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("the daemon answered %d: %s", e.Status, e.Message)
}

// New checks o and returns a client.
func New(o Options) (*Client, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("--url %q: want http(s)://host:port", o.URL)
	}
	if o.Pin != "" {
		if u.Scheme != "https" {
			return nil, fmt.Errorf("--pin with %s: a pin needs https", o.URL)
		}
		if _, err := apitls.ParsePin(o.Pin); err != nil {
			return nil, fmt.Errorf("--pin: %w", err)
		}
	}
	if o.Token != "" && u.Scheme == "http" && !loopback(u.Hostname()) {
		return nil, fmt.Errorf("--url %s: the token would cross the network in cleartext; use https (and --pin)", o.URL)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the daemon is reached directly
	if o.Pin != "" {
		tr.TLSClientConfig = apitls.PinnedClientConfig(o.Pin)
	} else {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	u.Path = ""
	return &Client{base: u, token: o.Token, timeout: timeout, hc: &http.Client{Transport: tr}}, nil
}

// URL is the daemon's address.
func (c *Client) URL() string { return c.base.String() }

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Get decodes the answer to GET path into out.
func (c *Client) Get(ctx context.Context, path string, out any) error {
	return c.Do(ctx, http.MethodGet, path, nil, out)
}

// Health is the daemon's /health report, also when it says "down" (503:
// the report is the answer, not an error).
func (c *Client) Health(ctx context.Context) (api.HealthReport, error) {
	var h api.HealthReport
	err := c.do(ctx, http.MethodGet, "/health", nil, &h, http.StatusServiceUnavailable)
	return h, err
}

// Do sends body (nil: none; else JSON-encoded) and decodes a success's
// answer into out (nil: dropped).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	return c.do(ctx, method, path, body, out)
}

// do is Do; the statuses in also are answers too, not errors.
func (c *Client) do(ctx context.Context, method, path string, body, out any, also ...int) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(data)
	}
	resp, err := c.send(ctx, method, path, rd, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 && !slices.Contains(also, resp.StatusCode) {
		return answerError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not what this command reads: %w", method, path, err)
	}
	return nil
}

// send makes the request and explains a failure to connect.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", accept)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, explain(c.base.String(), err)
	}
	return resp, nil
}

// explain turns a transport error into what the operator can act on.
func explain(base string, err error) error {
	var pin *apitls.PinMismatch
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &pin):
		return fmt.Errorf("reach %s: %w (check --pin: multilink fingerprint on the daemon's host)", base, pin)
	case errors.As(err, &unknown):
		return fmt.Errorf("reach %s: its certificate is not signed by a CA this host trusts: give its pin with --pin (multilink fingerprint on the daemon's host): %w", base, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("reach %s: connection refused: is the daemon running? (%w)", base, err)
	}
	return fmt.Errorf("reach %s: %w", base, err)
}

// answerError is the *Error of an error answer.
func answerError(status int, data []byte) error {
	var e api.Error
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return &Error{Status: status, Message: e.Error}
	}
	return &Error{Status: status, Message: strings.TrimSpace(string(data))}
}
