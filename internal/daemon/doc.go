// Package daemon wires multilink together and runs it: flags, the API
// token, the state directory and its desired state, the tunnel supervisor
// shared by both roles, the hub and gateway roles behind the REST API, its
// HTTP server and metrics registry, and an orderly shutdown. It owns no
// data plane of its own: the gateway starts and stops its bonds' probes,
// engines and steering (package gateway), the hub its bridges.
//
// State: what was started through the API (or the --config file) is the
// desired state. It is saved to <state-dir>/state.json (0600) after every
// change and restored at the next start, so a restarted daemon (a new pod,
// a reboot) brings the same bridges and bonds back. On shutdown the daemon
// removes every interface, route, rule and process it made — nothing of
// ours outlives it on the host — but keeps the desired state on disk. An
// explicit stop through the API removes the entry from the state, and
// nothing else does: a server or client whose start fails at boot (a hub
// not reachable yet, a hw_int that appears later, openvpn missing, a name
// taken) stays desired. It is pending: retried with a backoff of 2 s
// doubling up to 60 s, reported by /health (degraded, with the last error)
// and by status (listed with "pending", not counted as started). An API
// start of a pending name is 409; an API stop ends its retries, waiting
// for a start under way and undoing it.
package daemon
