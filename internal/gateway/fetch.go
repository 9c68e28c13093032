package gateway

import (
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
}

// FetchKey asks the hub for the key of its bridge. An https:// hub must
// answer with the key hub.Pin names: another is refused naming both pins.
func (f HTTPFetcher) FetchKey(ctx context.Context, hub HubAPI) (api.Key, error) {
	base, bridge, token := hub.URL, hub.Bridge, hub.Token
	shown := api.RedactURL(base)
	u, err := url.Parse(strings.TrimRight(base, "/") + "/v1/server/key")
	if err != nil {
		return api.Key{}, errkind.Invalid("server_api_url", "%q: %v", shown, api.RedactURL(err.Error()))
	}
	// Credentials in the URL go as basic auth when there is no token, as
	// net/http would send them, and the URL without them is all an error
	// of the HTTP client can show.
	user := u.User
	u.User = nil
	if bridge != "" {
		u.RawQuery = url.Values{"bridge": {bridge}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return api.Key{}, errkind.Invalid("server_api_url", "%q: %v", shown, err)
	}
	if user != nil && token == "" {
		pass, _ := user.Password() // as net/http does: basic auth only without another Authorization
		req.SetBasicAuth(user.Username(), pass)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := f.Client
	if c == nil {
		// One request per fetch: no idle connection is kept to a hub.
		c = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: apitls.PinnedClientConfig(hub.Pin), DisableKeepAlives: true}}
	}
	resp, err := c.Do(req)
	if err != nil {
		if mismatch := (*apitls.PinMismatch)(nil); errors.As(err, &mismatch) {
			return api.Key{}, errkind.Unavailable(mismatch, "refuse the hub API at %s", shown)
		}
		return api.Key{}, errkind.Unavailable(err, "reach the hub API at %s", shown)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeyResponse+1))
	if err != nil {
		return api.Key{}, errkind.Unavailable(err, "read the hub's key answer")
	}
	if len(body) > maxKeyResponse {
		return api.Key{}, errkind.Unavailable(nil, "the hub's key answer is larger than %d bytes", maxKeyResponse)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		what := map[int]string{401: " (the hub rejected our token: set server_token or the same token on both)", 404: " (no server started there, or not that bridge)"}
		return api.Key{}, errkind.Unavailable(nil, "the hub API at %s answered %s%s: %s", shown, resp.Status, what[resp.StatusCode], e.Error)
	}
	var k api.Key
	if err := json.Unmarshal(body, &k); err != nil {
		return api.Key{}, errkind.Unavailable(err, "decode the hub's key answer")
	}
	if err := tunnel.ParseKey([]byte(k.Key)); err != nil {
		return api.Key{}, errkind.Unavailable(err, "the hub sent no valid key")
	}
	if len(k.Links) == 0 {
		return api.Key{}, errkind.Unavailable(nil, "the hub listed no links")
	}
	for _, l := range k.Links {
		if l.Port < 1 || l.Port > 65535 {
			return api.Key{}, errkind.Unavailable(nil, "the hub listed link %s with port %d", l.Tap, l.Port)
		}
	}
	if k.Cipher != "" && k.Cipher != tunnel.Cipher || k.Auth != "" && k.Auth != tunnel.Auth {
		return api.Key{}, errkind.Unavailable(nil, "the hub uses cipher %s auth %s, we speak %s %s", k.Cipher, k.Auth, tunnel.Cipher, tunnel.Auth)
	}
	return k, nil
}
