package api

import (
	"encoding/json"
	"net/netip"
	"net/url"

	"github.com/multilink/multilink/internal/apitls"
	"github.com/multilink/multilink/internal/errkind"
)

// decodePin decodes server_api_pin to its canonical form.
func decodePin(raw json.RawMessage) (string, error) {
	s, err := decodeString(raw)
	if err != nil {
		return "", err
	}
	pin, err := apitls.ParsePin(s)
	if err != nil {
		return "", errkind.Invalid("", "%s", err.Error()) // the decoder names the field
	}
	return pin, nil
}

// checkPin: an https:// hub is trusted by its pin alone, so it needs one;
// a pin for an http:// hub would protect nothing, so it is refused.
func checkPin(serverURL, pin string) error {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil // checkURL has said so
	}
	switch {
	case u.Scheme == "https" && pin == "":
		return errkind.Invalid("server_api_pin", "is required with an https:// server_api_url: the pin of the hub API's key (sha256//...), printed by `multilink fingerprint` on the hub and in its start-up log")
	case u.Scheme == "http" && pin != "":
		return errkind.Invalid("server_api_pin", "applies to an https:// server_api_url only: with http:// the key and token cross the network in cleartext")
	case pin != "":
		if _, err := apitls.ParsePin(pin); err != nil {
			return errkind.Invalid("server_api_pin", "%s", err.Error())
		}
	}
	return nil
}

// Cleartext tells whether a server_api_url sends the token and fetches
// the key in cleartext over the network: http:// to a host other than
// loopback (localhost, 127.0.0.0/8, ::1).
func Cleartext(serverURL string) bool {
	u, err := url.Parse(serverURL)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err != nil || !a.Unmap().IsLoopback()
}
