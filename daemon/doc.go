// Package daemon wires multilink together and runs it: the API token, the
// state directory, the tunnel supervisor, the hub and gateway roles, the
// REST API and its HTTP server, and an orderly shutdown.
//
// State: what was started through the API (or the --config file) is the
// desired state. It is saved to <state-dir>/state.json (0600) after every
// change and restored at the next start, so a restarted daemon (a new pod,
// a reboot) brings the same bridges and bonds back. On shutdown the daemon
// removes every interface, route, rule and process it made — nothing of
// ours outlives it on the host — but keeps the desired state on disk. An
// explicit stop through the API removes the entry from the state.
package daemon
