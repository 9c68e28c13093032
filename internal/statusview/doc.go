// Package statusview is what `multilink status`, `watch` and `events`
// show: one snapshot of a daemon, taken through its REST API (gateway
// bonds with their links' state, RTT, loss and the last switch; hub
// bridges with their links and the gateway that holds them), rendered as
// a screen of text or as JSON, and events as lines.
//
// It reads only the API's documented answers, so it shows a remote daemon
// the same as the local one, and what it shows is what a script gets.
package statusview
