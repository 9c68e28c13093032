package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/cenkalti/backoff/v5"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/config"
	"github.com/multilink/multilink/internal/errkind"
)

// webhook POSTs events to a URL.
type webhook struct {
	url    string
	host   string      // scheme://host, what logs name: the path may be a secret
	header http.Header // with Authorization when a token is given: never logged
	client *http.Client
}

// newWebhook builds w's client: the token read from its file, TLS with the
// system's CAs or the CA file's. Errors name the field within webhook.
func newWebhook(w config.Webhook) (*webhook, error) {
	h := http.Header{}
	for k, v := range w.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "multilink-hook")
	if w.BearerTokenFile != "" {
		raw, err := os.ReadFile(w.BearerTokenFile)
		if err != nil {
			return nil, errkind.Invalid("bearer_token_file", "read: %v", err)
		}
		tok := strings.TrimSpace(string(raw))
		if tok == "" || strings.ContainsAny(tok, "\r\n") {
			return nil, errkind.Invalid("bearer_token_file", "%s: want one non-empty line", w.BearerTokenFile)
		}
		h.Set("Authorization", "Bearer "+tok)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a hook goes where its URL says
	if w.CAFile != "" {
		pem, err := os.ReadFile(w.CAFile)
		if err != nil {
			return nil, errkind.Invalid("ca_file", "read: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errkind.Invalid("ca_file", "%s holds no PEM certificate", w.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	// No redirects: a hook's POST goes to the URL given, token included,
	// nowhere else.
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	u, err := url.Parse(w.URL)
	if err != nil {
		return nil, errkind.Invalid("url", "not a URL: %v", err)
	}
	return &webhook{url: w.URL, host: u.Scheme + "://" + u.Host, header: h, client: client}, nil
}

// deliver POSTs body; a 2xx answer is success. 4xx answers but 408, 425
// and 429 are not tried again: the same request would get the same.
func (w *webhook) deliver(ctx context.Context, body []byte, _ api.Event) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return backoff.Permanent(fmt.Errorf("make request: %w", err))
	}
	req.Header = w.header.Clone()
	resp, err := w.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text holds the URL, whose path may be a secret (chat webhooks)
		}
		return fmt.Errorf("post to %s: %w", w.host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooEarly && c != http.StatusTooManyRequests:
		return backoff.Permanent(fmt.Errorf("post to %s: %s", w.host, resp.Status))
	default:
		return fmt.Errorf("post to %s: %s", w.host, resp.Status)
	}
}

// close releases idle connections.
func (w *webhook) close() { w.client.CloseIdleConnections() }
