package daemon

import (
	"context"
	"fmt"

	"github.com/multilink/multilink/api"
)

// plainHTTPWarning is what --insecure-plain-http costs, said at every
// start, in /health and in both status answers.
const plainHTTPWarning = "--insecure-plain-http: this API answers plain HTTP from any address; " +
	"API tokens and link keys cross the network in cleartext (use https:// with server_api_pin instead)"

// warnings lists what an operator must know about how secrets travel:
// plain HTTP allowed on this API, and clients that fetch their key over
// plain HTTP from a hub.
type warnings struct {
	r     *roles
	plain bool
	pins  string // why eBPF objects do not outlive this daemon ("": they do)
}

// list implements restapi.Deps.Warnings.
func (w warnings) list(ctx context.Context) []string {
	var out []string
	if w.plain {
		out = append(out, plainHTTPWarning)
	}
	if w.pins != "" {
		out = append(out, w.pins)
	}
	for _, c := range w.r.gw.Status(ctx) {
		if api.Cleartext(c.ServerAPIURL) {
			out = append(out, fmt.Sprintf("client %s: server_api_url %s is plain http: its token and link key crossed the network in cleartext",
				c.Bond, api.RedactURL(c.ServerAPIURL)))
		}
	}
	return out
}
