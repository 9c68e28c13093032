// Package apiclient is the command line's way to a multilink daemon's
// REST API: the local daemon, found through its state dir (its URL, TLS
// pin and token), or one at a URL. HTTPS is checked against the pin when
// one is given, else against the system's CAs; a token goes only over
// HTTPS or to a loopback address. Answers are decoded into the api
// package's types; an error answer becomes an *Error with the daemon's
// own message. Stream reads the server-sent events of the events
// endpoint.
package apiclient
