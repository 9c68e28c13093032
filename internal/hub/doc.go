// Package hub is the server role of multilink: for each started server it
// makes a Linux bridge with the bridge address, generates the link key once
// (0600 in the key directory), starts one supervised OpenVPN TAP tunnel per
// link on its own UDP port and enslaves every TAP in the bridge. Stop removes
// exactly what Start made: tunnels, TAPs, bridge and key.
//
// Several bridges may be served at once, keyed by bridge name; their TAP
// names and port ranges must not overlap.
//
// Collector exports the hub's own view of what it serves, read at scrape
// time: per bridge its tunnel mode and holder, per link (TAP) whether its
// tunnel runs, its OpenVPN restarts, the TAP's kernel counters and when
// the peer was last heard (the TAP's received-frame counter moving between
// two looks; peers.go).
package hub
