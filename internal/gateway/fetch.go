package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/apitls"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/tunnel"
)

// maxKeyResponse bounds what is read from a hub's key endpoint.
const maxKeyResponse = 64 << 10

// HTTPFetcher fetches link keys from a hub's REST API.
type HTTPFetcher struct {
	Client *http.Client // nil: a client with a 10 s timeout (pinned to HubAPI.Pin for https)
}

// HubAPI is where and how a gateway asks a hub for a link key.
type HubAPI struct {
	URL    string // server_api_url
	Pin    string // server_api_pin: the only key an https:// hub may answer with
	Bridge string // the hub's bridge ("" = its only one)
	Token  string // bearer token ("" = none)
	// GatewayID and Bond name the claimant: the bridge's links are then
	// bound to it (POST /v1/server/claim). Empty GatewayID: the spec's
	// anonymous GET /v1/server/key.
	GatewayID string
	Bond      string
	// Fingerprint is this gateway's tunnel certificate's, sent with the
	// claim: a TLS-mode bridge's links accept only it. LinkFingerprints
	// are those of links with their own since a rotation, by link.
	Fingerprint      string
	LinkFingerprints []string
}

// FetchKey asks the hub for the key of its bridge, claiming the bridge
// for hub.GatewayID and hub.Bond when set. A hub that knows no claims
// (the spec's original, an older multilink) is asked the spec's way. An
// https:// hub must answer with the key hub.Pin names: another is
// refused naming both pins. A bridge held by another is errkind.Conflict.
func (f HTTPFetcher) FetchKey(ctx context.Context, hub HubAPI) (api.Key, error) {
	if hub.GatewayID != "" {
		body, _ := json.Marshal(api.ClaimRequest{Bridge: hub.Bridge, GatewayID: hub.GatewayID, Bond: hub.Bond, Fingerprint: hub.Fingerprint,
			LinkFingerprints: hub.LinkFingerprints}) // strings only
		status, answer, err := f.do(ctx, hub, http.MethodPost, "/v1/server/claim", nil, body)
		if err != nil {
			return api.Key{}, err
		}
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed || hubKnowsClaims(answer) {
			return decodeKey(hub, status, answer)
		}
	}
	var q url.Values
	if hub.Bridge != "" {
		q = url.Values{"bridge": {hub.Bridge}}
	}
	status, answer, err := f.do(ctx, hub, http.MethodGet, "/v1/server/key", q, nil)
	if err != nil {
		return api.Key{}, err
	}
	return decodeKey(hub, status, answer)
}

// ServerStatus reads the hub's GET /v1/server/status.
func (f HTTPFetcher) ServerStatus(ctx context.Context, hub HubAPI) (api.ServerStatusResponse, error) {
	var r api.ServerStatusResponse
	status, answer, err := f.do(ctx, hub, http.MethodGet, "/v1/server/status", nil, nil)
	if err != nil {
		return r, err
	}
	if status != http.StatusOK {
		return r, hubError(hub, status, answer)
	}
	if err := json.Unmarshal(answer, &r); err != nil {
		return r, errkind.Unavailable(err, "read the hub's server status")
	}
	return r, nil
}

// hubKnowsClaims tells whether a 404 answer to a claim comes from a hub
// that has the endpoint (our JSON error: no such bridge), not from one
// that lacks it.
func hubKnowsClaims(answer []byte) bool {
	var e struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(answer, &e) == nil && strings.HasPrefix(e.Error, "no server")
}

// Release gives back the bridge hub.GatewayID and hub.Bond hold. A hub
// that does not know the bridge, or claims, has nothing to release.
func (f HTTPFetcher) Release(ctx context.Context, hub HubAPI, bridge string) error {
	body, _ := json.Marshal(api.ReleaseRequest{GatewayID: hub.GatewayID, Bond: hub.Bond}) // strings only
	status, answer, err := f.do(ctx, hub, http.MethodPost, "/v1/server/release/"+url.PathEscape(bridge), nil, body)
	if err != nil {
		return err
	}
	if status == http.StatusOK || status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		return nil
	}
	return hubError(hub, status, answer)
}

// Rotate asks the hub to renew the secrets of one link of bridge, which
// hub.GatewayID and hub.Bond hold: the answer is the link's new hub
// certificate fingerprint (TLS) or key (static).
func (f HTTPFetcher) Rotate(ctx context.Context, hub HubAPI, bridge string, r api.RotateRequest) (api.KeyLink, error) {
	body, _ := json.Marshal(r) // strings and numbers only
	status, answer, err := f.do(ctx, hub, http.MethodPost, "/v1/server/rotate/"+url.PathEscape(bridge), nil, body)
	if err != nil {
		return api.KeyLink{}, err
	}
	if status != http.StatusOK {
		return api.KeyLink{}, hubError(hub, status, answer)
	}
	var l api.KeyLink
	if err := json.Unmarshal(answer, &l); err != nil {
		return api.KeyLink{}, errkind.Unavailable(err, "decode the hub's rotation answer")
	}
	if err := checkKeyLink(l, r.Fingerprint != ""); err != nil {
		return api.KeyLink{}, err
	}
	if r.Fingerprint != "" && l.Fingerprint == "" || r.Fingerprint == "" && l.Key == "" {
		return api.KeyLink{}, errkind.Unavailable(nil, "the hub's rotation answer has no new secret for %s", l.Tap)
	}
	if l.Fingerprint != "" {
		l.Fingerprint, _ = tunnel.ParseFingerprint(l.Fingerprint)
	}
	return l, nil
}

// checkKeyLink checks the secrets a link entry of a hub's answer has of
// its own, and canonicalises its fingerprint.
func checkKeyLink(l api.KeyLink, tls bool) error {
	if l.Fingerprint != "" {
		if !tls {
			return errkind.Unavailable(nil, "the hub sent a certificate fingerprint for %s of a static-key bridge", l.Tap)
		}
		if _, err := tunnel.ParseFingerprint(l.Fingerprint); err != nil {
			return errkind.Unavailable(err, "the hub sent no valid certificate fingerprint for %s", l.Tap)
		}
	}
	if l.Key != "" {
		if tls {
			return errkind.Unavailable(nil, "the hub sent a static key for %s of a TLS bridge", l.Tap)
		}
		if err := tunnel.ParseKey([]byte(l.Key)); err != nil {
			return errkind.Unavailable(err, "the hub sent no valid key for %s", l.Tap)
		}
	}
	return nil
}

// do sends one request to the hub's API and returns the answer's status
// and body (bounded).
func (f HTTPFetcher) do(ctx context.Context, hub HubAPI, method, path string, query url.Values, body []byte) (int, []byte, error) {
	shown := api.RedactURL(hub.URL)
	u, err := url.Parse(strings.TrimRight(hub.URL, "/") + path)
	if err != nil {
		return 0, nil, errkind.Invalid("server_api_url", "%q: %v", shown, api.RedactURL(err.Error()))
	}
	// Credentials in the URL go as basic auth when there is no token, as
	// net/http would send them, and the URL without them is all an error
	// of the HTTP client can show.
	user := u.User
	u.User = nil
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, nil, errkind.Invalid("server_api_url", "%q: %v", shown, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != nil && hub.Token == "" {
		pass, _ := user.Password() // as net/http does: basic auth only without another Authorization
		req.SetBasicAuth(user.Username(), pass)
	}
	if hub.Token != "" {
		req.Header.Set("Authorization", "Bearer "+hub.Token)
	}
	c := f.Client
	if c == nil {
		// One request per fetch: no idle connection is kept to a hub.
		c = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: apitls.PinnedClientConfig(hub.Pin), DisableKeepAlives: true}}
	}
	resp, err := c.Do(req)
	if err != nil {
		if mismatch := (*apitls.PinMismatch)(nil); errors.As(err, &mismatch) {
			return 0, nil, errkind.Unavailable(mismatch, "refuse the hub API at %s", shown)
		}
		return 0, nil, errkind.Unavailable(err, "reach the hub API at %s", shown)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxKeyResponse+1))
	if err != nil {
		return 0, nil, errkind.Unavailable(err, "read the hub's answer")
	}
	if len(answer) > maxKeyResponse {
		return 0, nil, errkind.Unavailable(nil, "the hub's answer is larger than %d bytes", maxKeyResponse)
	}
	return resp.StatusCode, answer, nil
}

// hubError is a hub's error answer as an error: a conflict (the bridge
// is held) stays a conflict, the rest is the hub being unavailable.
func hubError(hub HubAPI, status int, answer []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(answer, &e)
	shown := api.RedactURL(hub.URL)
	if status == http.StatusConflict {
		return errkind.Conflict("the hub API at %s refused: %s", shown, e.Error)
	}
	what := map[int]string{401: " (the hub rejected our token: set server_token or the same token on both)", 404: " (no server started there, or not that bridge)"}
	return errkind.Unavailable(nil, "the hub API at %s answered %d %s%s: %s", shown, status, http.StatusText(status), what[status], e.Error)
}

// decodeKey checks a key answer.
func decodeKey(hub HubAPI, status int, body []byte) (api.Key, error) {
	if status != http.StatusOK {
		return api.Key{}, hubError(hub, status, body)
	}
	var k api.Key
	if err := json.Unmarshal(body, &k); err != nil {
		return api.Key{}, errkind.Unavailable(err, "decode the hub's key answer")
	}
	switch k.TunnelMode {
	case "", api.TunnelStatic: // "": a hub that predates modes
		if err := tunnel.ParseKey([]byte(k.Key)); err != nil {
			return api.Key{}, errkind.Unavailable(err, "the hub sent no valid key")
		}
		if k.Cipher != "" && k.Cipher != tunnel.Cipher || k.Auth != "" && k.Auth != tunnel.Auth {
			return api.Key{}, errkind.Unavailable(nil, "the hub uses cipher %s auth %s, we speak %s %s", k.Cipher, k.Auth, tunnel.Cipher, tunnel.Auth)
		}
	case api.TunnelTLS:
		fp, err := tunnel.ParseFingerprint(k.Fingerprint)
		if err != nil {
			return api.Key{}, errkind.Unavailable(err, "the hub sent no valid tunnel certificate fingerprint")
		}
		k.Fingerprint = fp
	default:
		return api.Key{}, errkind.Unavailable(nil, "the hub's bridge runs tunnel mode %q, which this gateway does not speak", k.TunnelMode)
	}
	if len(k.Links) == 0 {
		return api.Key{}, errkind.Unavailable(nil, "the hub listed no links")
	}
	for i, l := range k.Links {
		if l.Port < 1 || l.Port > 65535 {
			return api.Key{}, errkind.Unavailable(nil, "the hub listed link %s with port %d", l.Tap, l.Port)
		}
		if err := checkKeyLink(l, k.TunnelMode == api.TunnelTLS); err != nil {
			return api.Key{}, err
		}
		if l.Fingerprint != "" {
			k.Links[i].Fingerprint, _ = tunnel.ParseFingerprint(l.Fingerprint)
		}
	}
	return k, nil
}
