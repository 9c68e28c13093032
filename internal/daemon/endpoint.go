package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/multilink/multilink/internal/atomicfile"
)

// endpointFile, in the state dir, tells the command line where this
// daemon's API answers: written once it listens, removed when it stops.
const endpointFile = "api.json"

// Endpoint is how a local client reaches the daemon: its API's URL (a
// loopback address where it listens on all of them), the pin of its TLS
// key, and the token's file when the daemon read it from --token-file.
type Endpoint struct {
	URL       string `json:"url"`
	Pin       string `json:"pin"`
	TokenFile string `json:"token_file,omitempty"`
}

// endpointOf is the Endpoint for a listener bound to addr.
func endpointOf(addr net.Addr, pin, tokenFile string) (Endpoint, error) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return Endpoint{}, fmt.Errorf("read the API's address %s: %w", addr, err)
	}
	ip := ap.Addr().Unmap()
	if ip.IsUnspecified() {
		ip = netip.MustParseAddr("127.0.0.1")
		if ap.Addr().Is6() && !ap.Addr().Is4In6() {
			ip = netip.IPv6Loopback()
		}
	}
	url := "https://" + net.JoinHostPort(ip.String(), strconv.Itoa(int(ap.Port())))
	return Endpoint{URL: url, Pin: pin, TokenFile: tokenFile}, nil
}

// publishEndpoint writes the state dir's endpoint file for the API bound
// to addr. A failure (a full disk) is a warning: the network comes first,
// and only the command line's way to find the daemon is lost.
func publishEndpoint(o Options, r readers, addr net.Addr, pin string, log *slog.Logger) {
	tokenFile := ""
	if o.TokenFile != "" {
		abs, err := filepath.Abs(o.TokenFile)
		if err == nil {
			tokenFile = abs
		}
	}
	e, err := endpointOf(addr, pin, tokenFile)
	if err == nil {
		err = writeEndpoint(o.StateDir, e)
	}
	if err == nil {
		err = r.share(filepath.Join(o.StateDir, endpointFile))
	}
	if err != nil {
		log.Warn("the command line will not find this daemon (give it --url)", "err", err)
	}
}

// writeEndpoint saves e in stateDir (0600).
func writeEndpoint(stateDir string, e Endpoint) error {
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the API endpoint: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(stateDir, endpointFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write the API endpoint: %w", err)
	}
	return nil
}

// removeEndpoint deletes the endpoint file: no daemon answers there.
func removeEndpoint(stateDir string) error {
	err := os.Remove(filepath.Join(stateDir, endpointFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the API endpoint: %w", err)
	}
	return nil
}

// ErrNoDaemon is ReadEndpoint's error when the state dir names no
// running daemon's API.
var ErrNoDaemon = errors.New("no multilink daemon runs with this state dir")

// ReadEndpoint returns how to reach the daemon of stateDir.
func ReadEndpoint(stateDir string) (Endpoint, error) {
	path := filepath.Join(stateDir, endpointFile)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return Endpoint{}, fmt.Errorf("%w (%s: no %s; start it, or give --state-dir or --url)", ErrNoDaemon, stateDir, endpointFile)
	case errors.Is(err, os.ErrPermission):
		return Endpoint{}, fmt.Errorf("read %s: %w (run as the daemon's user, or as a member of its --api-group)", path, err)
	case err != nil:
		return Endpoint{}, fmt.Errorf("read %s: %w", path, err)
	}
	var e Endpoint
	if err := json.Unmarshal(data, &e); err != nil || e.URL == "" {
		return Endpoint{}, fmt.Errorf("read %s: not an endpoint (%v)", path, err)
	}
	return e, nil
}

// ReadToken returns the API token a local client sends: from tokenFile
// when the daemon was given one, else the state dir's; "" when there is
// none (a daemon with --insecure-no-auth, or the token in the daemon's
// environment alone).
func ReadToken(stateDir, tokenFile string) (string, error) {
	path := tokenFile
	if path == "" {
		path = filepath.Join(stateDir, "token")
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && tokenFile == "":
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read the API token: %w", err)
	}
	token, _, err := checkToken(strings.TrimSpace(string(data)), path)
	return token, err
}
