// Package ping measures reachability and round-trip times with ICMP echo,
// for POST /v1/ping_test.
//
// It sends privileged raw-socket pings (the daemon runs as root, or with
// CAP_NET_RAW) through github.com/prometheus-community/pro-bing, to IPv4
// and IPv6 targets given as literal addresses: no name resolution and no
// shell. An api.PingRequest's zero fields take the defaults below; given
// values are checked against the bounds, and a whole test never runs
// longer than api.MaxPingDuration, so it finishes inside the API server's
// write timeout.
//
//	count        4 echo requests       (1..100)
//	interval_ms  200 ms between them   (10..10000)
//	timeout_ms   2000 ms for the last  (100..30000)
//
// A target that does not answer is a result (100 % loss), not an error;
// so is one that cannot be sent to (no route, a firewall):
// api.PingResult.SendError says why. Errors are invalid requests, a
// cancelled context, or a socket that cannot be opened (no CAP_NET_RAW).
package ping
