// Package notify tells programs and webhooks of the gateway's events
// (switches and link state changes), as the config file's hooks: section
// says: one bounded queue and one worker per hook, so that a slow or
// hanging hook delays neither the failover engine nor another hook; each
// attempt under a timeout, failed ones tried again with exponential
// backoff and jitter; deliveries counted by result in metrics.
// docs/hooks.md describes the behaviour operators rely on.
package notify
