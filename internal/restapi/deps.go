package restapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/multilink/multilink/api"
)

// DefaultMaxBody bounds a request body when Deps.MaxBody is 0.
const DefaultMaxBody = 64 << 10

// Deps is what the API drives. Everything but Metrics is required.
type Deps struct {
	Hub      Hub
	Gateway  Gateway
	Taps     Taps
	Pinger   Pinger
	Health   Health
	Links    Links
	Failover Failover

	// Version is reported by GET /version ("dev" when empty).
	Version string
	// Token is the bearer token of the authenticated endpoints. Empty is
	// allowed only with Insecure; a non-empty Token always turns auth on.
	Token    string
	Insecure bool
	// Logger gets the request log and the details of internal errors
	// (nil: discard).
	Logger *slog.Logger
	// Warnings, if set, lists what /health and both status answers
	// warn about (secrets in cleartext).
	Warnings func(ctx context.Context) []string
	// Metrics, if set, is served at GET /metrics (open).
	Metrics http.Handler
	// MaxBody bounds request bodies in bytes (0: DefaultMaxBody).
	MaxBody int64
	// MaxInFlight bounds the requests served at once; more are 429 but
	// for /health and /metrics (0: DefaultMaxInFlight).
	MaxInFlight int
}

// Hub is the server role: bridges with one TAP tunnel per link.
type Hub interface {
	Start(ctx context.Context, c api.Server) (api.ServerStatus, error)
	Stop(ctx context.Context, bridge string) error
	Status(ctx context.Context) []api.ServerStatus
	// Key returns the link key of bridge ("" = the only one).
	Key(ctx context.Context, bridge string) (api.Key, error)
	// Claim gives a bridge's links to the holder the request names.
	Claim(ctx context.Context, r api.ClaimRequest) (api.Key, error)
	// Release ends a bridge's claim: the holder's own (who set) or the
	// operator's (who nil).
	Release(ctx context.Context, bridge string, who *api.ReleaseRequest) (api.Released, error)
	// Rotate renews one link's secrets for the bridge's holder.
	Rotate(ctx context.Context, bridge string, r api.RotateRequest) (api.KeyLink, error)
}

// Gateway is the client role: bonds over TAP tunnels to a hub.
type Gateway interface {
	Start(ctx context.Context, c api.Client) (api.ClientStatus, error)
	Stop(ctx context.Context, name string) error
	Status(ctx context.Context) []api.ClientStatus
	BondParams(ctx context.Context, name string) (api.BondInfo, error)
	SetBondParams(ctx context.Context, name string, p api.BondParams) (api.BondInfo, error)
	// Rotate renews the secrets of a bond's links one at a time, the
	// active one last, traffic moved away from each first.
	Rotate(ctx context.Context, name string) (api.Rotation, error)
}

// Taps brings the TAPs this daemon manages up and down; any other name is
// fault.KindNotFound.
type Taps interface {
	SetTap(ctx context.Context, tap string, up bool) error
}

// Pinger runs a ping test.
type Pinger interface {
	Ping(ctx context.Context, r api.PingRequest) (api.PingResult, error)
}

// Links are the probe's per-link figures.
type Links interface {
	Links() []api.LinkStats
}

// Failover controls the failover decisions of the gateway's bonds.
type Failover interface {
	// Policy is a bond's failover state and policy; fault.KindNotFound for
	// a bond that is not started.
	Policy(ctx context.Context, bond string) (api.PolicyStatus, error)
	// SetPolicy applies a PUT body (failover.ParseRequest's shape).
	SetPolicy(ctx context.Context, bond string, body []byte) (api.PolicyStatus, error)
	// Events lists the latest switches and state changes of bond ("": all).
	Events(bond string, limit int) []api.Event
	// WatchEvents is Events, then each new event until ctx ends (the
	// channel is then closed); missed reports whether the watcher fell
	// behind and lost some.
	WatchEvents(ctx context.Context, bond string, limit int) (past []api.Event, next <-chan api.Event, missed func() bool)
}

// Health reports the daemon's real health.
type Health interface {
	Health(ctx context.Context) api.HealthReport
}
