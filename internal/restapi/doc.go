// Package restapi is multilink's REST API: the endpoints of the ASSIST-IoT
// Multi-link enabler's specification, on gin, over small interfaces (Hub,
// Gateway, Taps, Pinger, Health) that the daemon implements. NewRouter
// builds it; openapi.json, served at GET /v1/api-export, documents it, and
// a test keeps the two equal both ways.
//
// # Endpoints and answers
//
// Answers are JSON. The choices the spec leaves open:
//
//	POST /v1/server/start                   200 the bridge's api.ServerStatus; 409 started already; 501 no openvpn
//	GET  /v1/server/key[?bridge=br0]        200 api.Key ("" = the only bridge); 404 none
//	POST /v1/server/stop/{bridge_interface} 200 {"stopped": "br0"}; 404 not started
//	GET  /v1/server/status                  200 {"started": bool, "servers": [api.ServerStatus...]}
//	POST /v1/client/start                   200 the bond's api.ClientStatus; 409; 502 hub unreachable; 501 no bonding driver or openvpn
//	GET  /v1/client/status                  200 {"started": bool, "clients": [api.ClientStatus...]}
//	POST /v1/client/stop/{bond_interface}   200 {"stopped": "bond0"}; 404 not started; 409 its start is under way
//	PUT  /v1/client/bond_params/{bond}      200 api.BondInfo after the change; 400 empty {} or bad value
//	GET  /v1/client/bond_params/{bond}      200 api.BondInfo, live from the kernel; 404
//	POST /v1/tap_down/{tap}, /v1/tap_up/{tap}  200 {"tap": "tap1", "up": bool}; 404 not ours
//	POST /v1/ping_test {"ip": ...}          200 api.PingResult (an unanswered target is 100% loss)
//	GET  /v1/api-export                     200 the OpenAPI 3.0 document
//	GET  /version                           200 {"version": "..."}
//	GET  /health, /helth (spec's spelling)  200 ok or degraded, 503 down: api.HealthReport
//	GET  /metrics                           only when Deps.Metrics is set
//
// A start answers 200, not 201: it starts a role, it does not create a
// resource at a new URL. "started" is true when at least one bridge (bond)
// is started. A desired bridge (bond) the daemon could not start at boot is
// listed with "pending" (why; it is retried) and does not count. Stops and
// tap_up/down take no body and ignore one.
//
// # Errors
//
// Errors are {"error": "...", "field": "..."} (field when one input field
// is at fault), with one status per fault kind: Invalid 400, Unauthorized
// 401, NotFound 404, Conflict 409, Unavailable 502 (the hub's API, or a
// tunnel to it, cannot be reached or answers wrongly: an upstream failure),
// Unsupported 501 (this host lacks what the request needs: the kernel's
// bonding driver, an openvpn binary of 2.5 or later), anything else 500. A 500 says only which operation failed; its details
// go to the log. A body larger than Deps.MaxBody (64 KiB) is 413, an
// unknown path 404, a known path with the wrong method 405 with Allow, a
// panic 500. All are JSON.
//
// # Requests
//
// Bodies are read up to the limit and must be JSON; the Content-Type is
// not checked (the spec's clients may omit it). An empty body where one is
// needed is 400. Bodies are decoded by package api: the spec's
// examples verbatim, unknown fields rejected by name, every value
// validated. Path parameters and ?bridge= are interface names, checked with
// api.CheckIfName before anything is called. Nothing behind the API is
// called for a request that fails any check.
//
// # Security
//
// With Deps.Token set, every POST and PUT and GET /v1/server/key (the link
// key is a secret) need "Authorization: Bearer <token>", checked before
// anything else (a bad unauthenticated request is 401, not 400) by a
// constant-time compare of SHA-256 digests; a refusal is 401 with
// WWW-Authenticate: Bearer. Status, bond_params GET, health, version,
// api-export and metrics stay open. NewRouter refuses an empty Token unless
// Deps.Insecure is set, and then warns; a Token always wins over Insecure.
// Likewise the daemon's --insecure-no-auth turns authentication off only
// when no token is configured: with MULTILINK_API_TOKEN or --token-file it
// is ignored, with a warning.
// Neither the token nor any header or query is ever logged: the request
// log has method, path, status, duration, size and client address. Every
// answer carries Cache-Control: no-store and X-Content-Type-Options: nosniff.
package restapi
