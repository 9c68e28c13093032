// Package webui is the daemon's web page, served at /ui/ for both roles:
// each gateway bond's links (state, time in it, RTT with a chart of the
// last two minutes, loss, tunnel), the active link, the event timeline
// live from the events stream, and on a hub its bridges, links and the
// gateway that holds them. Changes (pin and unpin, a TAP down or up, the
// bond's parameters) send the token the operator enters, kept in the
// tab's session storage and sent as a bearer header: no cookie, so no
// cross-site request can make them.
//
// The page is three small files embedded in the binary (no CDN, no build
// step, works offline), served with a Content-Security-Policy that allows
// only this origin; the script builds the page with DOM calls and text
// nodes, never HTML from an answer.
package webui
