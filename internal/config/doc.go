// Package config reads the daemon's config file (--config, YAML or JSON)
// and its saved desired state (state.json): lists of servers and clients
// in the API bodies' shapes (package api), checked against each other, and
// the optional probe: and policy: settings.
package config
