package api

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/multilink/multilink/internal/errkind"
)

// UnmarshalJSON decodes {"ip": "...", "count": n, "interval_ms": n,
// "timeout_ms": n}: numbers as JSON numbers or strings, unknown fields
// rejected by name, every given value checked against its bounds.
func (r *PingRequest) UnmarshalJSON(data []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil || members == nil {
		return errkind.Invalid("", `must be a JSON object: {"ip": "192.0.2.1"}`)
	}
	var out PingRequest
	fields := map[string]func(json.RawMessage) error{
		"ip": func(raw json.RawMessage) error {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return errkind.Invalid("ip", "must be a string")
			}
			a, err := parseIP(s)
			out.IP = a
			return err
		},
		"count":       intField("count", &out.Count, MinPingCount, MaxPingCount),
		"interval_ms": intField("interval_ms", &out.Interval, MinPingInterval, MaxPingInterval),
		"timeout_ms":  intField("timeout_ms", &out.Timeout, MinPingTimeout, MaxPingTimeout),
	}
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := fields[k]
		if !ok {
			return errkind.Invalid(k, "unknown field (known: count, interval_ms, ip, timeout_ms)")
		}
		if err := f(members[k]); err != nil {
			return err
		}
	}
	if !out.IP.IsValid() {
		return errkind.Invalid("ip", "is required: the IPv4 or IPv6 address to ping")
	}
	if err := out.Check(); err != nil {
		return err
	}
	*r = out
	return nil
}

func intField(name string, dst *int, lo, hi int) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		raw = bytes.TrimSpace(raw)
		var s string
		if len(raw) > 0 && raw[0] == '"' {
			if err := json.Unmarshal(raw, &s); err != nil {
				return errkind.Invalid(name, "must be a whole number")
			}
		} else {
			var n json.Number
			if err := json.Unmarshal(raw, &n); err != nil {
				return errkind.Invalid(name, "must be a whole number")
			}
			s = n.String()
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return errkind.Invalid(name, "%q is not a whole number", s)
		}
		if n < int64(lo) || n > int64(hi) {
			return errkind.Invalid(name, "%d is out of range %d..%d", n, lo, hi)
		}
		*dst = int(n)
		return nil
	}
}

// parseIP accepts a literal IPv4 or IPv6 address that can be pinged: not
// unspecified, multicast or the IPv4 broadcast address. An IPv4-mapped
// IPv6 address is taken as IPv4.
func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, errkind.Invalid("ip", "%q is not an IPv4 or IPv6 address", s)
	}
	if err := checkAddr(a); err != nil {
		return netip.Addr{}, err
	}
	return a.Unmap(), nil
}

func checkAddr(a netip.Addr) error {
	switch {
	case !a.IsValid():
		return errkind.Invalid("ip", "is required: the IPv4 or IPv6 address to ping")
	case a.IsUnspecified():
		return errkind.Invalid("ip", "%s is the unspecified address", a)
	case a.IsMulticast():
		return errkind.Invalid("ip", "%s is a multicast address", a)
	case a.Unmap() == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return errkind.Invalid("ip", "%s is the broadcast address", a)
	}
	if z := a.Zone(); z != "" {
		if !a.Is6() || a.Is4In6() {
			return errkind.Invalid("ip", "a zone (%%%s) is only for IPv6 addresses", z)
		}
		if err := CheckIfName("ip", z); err != nil {
			return err
		}
	}
	return nil
}

// Check validates r; zero fields stand for their defaults.
func (r PingRequest) Check() error {
	if err := checkAddr(r.IP); err != nil {
		return err
	}
	bounds := []struct {
		name   string
		v      int
		lo, hi int
	}{
		{"count", r.Count, MinPingCount, MaxPingCount},
		{"interval_ms", r.Interval, MinPingInterval, MaxPingInterval},
		{"timeout_ms", r.Timeout, MinPingTimeout, MaxPingTimeout},
	}
	for _, b := range bounds {
		if b.v != 0 && (b.v < b.lo || b.v > b.hi) {
			return errkind.Invalid(b.name, "%d is out of range %d..%d", b.v, b.lo, b.hi)
		}
	}
	f := r.Filled()
	if d := f.Duration(); d > MaxPingDuration {
		return errkind.Invalid("count", "%d pings %d ms apart plus a %d ms timeout take %s, more than %s",
			f.Count, f.Interval, f.Timeout, d, MaxPingDuration)
	}
	return nil
}

// Filled returns r with the defaults in place of zero fields.
func (r PingRequest) Filled() PingRequest {
	if r.Count == 0 {
		r.Count = DefaultPingCount
	}
	if r.Interval == 0 {
		r.Interval = DefaultPingInterval
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultPingTimeout
	}
	return r
}

// Duration is the longest a filled request runs.
func (r PingRequest) Duration() time.Duration {
	return time.Duration(r.Count-1)*time.Duration(r.Interval)*time.Millisecond +
		time.Duration(r.Timeout)*time.Millisecond
}
