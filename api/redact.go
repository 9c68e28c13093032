package api

import (
	"net/url"
	"strings"
)

// redacted stands where a URL's credentials were.
const redacted = "xxxxx"

// RedactURL is s without the credentials it may carry (the userinfo of
// http://user:pass@host:3333, username too: it may be a token), for every
// answer, event and log line that shows a URL. What cannot be parsed loses
// everything up to its last '@' before the host.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err == nil {
		if u.User == nil {
			return s
		}
		u.User = url.User(redacted)
		return u.String()
	}
	rest, scheme := s, ""
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, rest = s[:i+3], s[i+3:]
	}
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	if i := strings.LastIndex(host, "@"); i >= 0 {
		return scheme + redacted + rest[i:]
	}
	return s
}
