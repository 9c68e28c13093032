// Package hub is the server role of multilink: for each started server it
// makes a Linux bridge with the bridge address, generates the link key once
// (0600 in the key directory), starts one supervised OpenVPN TAP tunnel per
// link on its own UDP port and enslaves every TAP in the bridge. Stop removes
// exactly what Start made: tunnels, TAPs, bridge and key.
//
// Several bridges may be served at once, keyed by bridge name; their TAP
// names and port ranges must not overlap.
package hub
