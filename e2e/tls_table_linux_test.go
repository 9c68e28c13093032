package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// plainRefusal is the error a daemon's TLS API port answers, in plain
// HTTP, to a plain-HTTP client that is not on loopback (without
// --insecure-plain-http).
const plainRefusal = "this API speaks TLS: use https:// with the hub's pin " +
	"(server_api_pin, printed by `multilink fingerprint` on the hub), " +
	"or allow plain http on the hub: daemon flag --insecure-plain-http, chart value api.insecurePlainHttp " +
	"(tokens and keys then cross the network in cleartext)"

// plainHTTPWarning is what a daemon with --insecure-plain-http says at
// start and in /health and its status answers.
const plainHTTPWarning = "--insecure-plain-http: this API answers plain HTTP from any address; " +
	"API tokens and link keys cross the network in cleartext"

// plainFetchLog is what a gateway logs at each start of a client that
// fetched its key over plain http.
const plainFetchLog = "fetched the link key over plain http"

// hubAPIURL is the hub's API as the spec's client body names it (plain
// http, on the primary underlay).
const hubAPIURL = "http://" + topology.HubU1 + ":" + topology.APIPort

// nsGet sends GET url over plain HTTP from a socket made in ns (no token,
// no proxy) and returns the status, Content-Type and body.
func nsGet(t testing.TB, ns *nstest.NS, url string) (int, string, []byte) {
	t.Helper()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := ns.Do(func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", url, ns.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("GET %s from %s: read the answer: %v", url, ns.Name, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// warningsOf returns the "warnings" of d's answer to GET path, and
// whether the answer has that field at all.
func warningsOf(t testing.TB, d *daemon, path string) ([]string, bool) {
	t.Helper()
	var fields map[string]json.RawMessage
	if code := d.call(http.MethodGet, path, nil, &fields); code != http.StatusOK {
		t.Fatalf("%s %s: %d", d.ns.Name, path, code)
	}
	raw, ok := fields["warnings"]
	if !ok {
		return nil, false
	}
	var w []string
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatalf("%s %s: warnings %s is not a list of strings: %v", d.ns.Name, path, raw, err)
	}
	return w, true
}

// assertNoWarnings fails if any of d's answers to paths has "warnings".
func assertNoWarnings(t testing.TB, d *daemon, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if w, ok := warningsOf(t, d, p); ok {
			t.Errorf("%s %s: warnings %q, want no warnings field", d.ns.Name, p, w)
		}
	}
}

// assertOneWarning fails unless each of d's answers to paths has exactly
// one warning, containing want.
func assertOneWarning(t testing.TB, d *daemon, want string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if w, _ := warningsOf(t, d, p); len(w) != 1 || !strings.Contains(w[0], want) {
			t.Errorf("%s %s: warnings %q, want one containing %q", d.ns.Name, p, w, want)
		}
	}
}

// gatewayArgs are the flags of these tests' gateway daemons: the eBPF
// data path (every kernel has it) and, in the kernel lab, the emulator's
// policy (as scenario gives its gateways).
func gatewayArgs(t testing.TB) []string {
	t.Helper()
	args := []string{"--bond-driver", "ebpf"}
	if nstest.InLab() {
		args = append(args, "--config", emulatorPolicy(t))
	}
	return args
}

// waitLogLines waits (bounded) until d's log has at least n lines with
// substr, and returns them: a line the daemon wrote before it answered
// may reach its log buffer just after the answer.
func waitLogLines(t testing.TB, d *daemon, substr string, n int) []string {
	t.Helper()
	var l []string
	waitFor(t, 5*time.Second, 20*time.Millisecond, func() bool { l = d.logLines(substr); return len(l) >= n })
	return l
}

// sortedLinks is links(ns), sorted.
func sortedLinks(t testing.TB, ns *nstest.NS) []string {
	t.Helper()
	l := links(t, ns)
	slices.Sort(l)
	return l
}

// assertGatewayUntouched fails if a refused client start made anything on
// the gateway: a link that was not there before, an openvpn process, a
// policy rule, a client in its status or its desired state, a file in its
// state dir other than the dir's own.
func assertGatewayUntouched(t testing.TB, tp *testbed, gw *daemon, before []string) {
	t.Helper()
	if after := sortedLinks(t, tp.gw); !slices.Equal(after, before) {
		t.Errorf("gateway links after the refused start: %v, before: %v", after, before)
	}
	if pids := openvpnPids(t, tp.gw); len(pids) > 0 {
		t.Errorf("openvpn running on the gateway after the refused start: %v", pids)
	}
	assertNoRules(t, tp.gw.Name)
	var st struct {
		Clients []json.RawMessage `json:"clients"`
	}
	if code := gw.call(http.MethodGet, "/v1/client/status", nil, &st); code != http.StatusOK || len(st.Clients) != 0 {
		t.Errorf("client status after the refused start: %d, %d clients, want 200 and none", code, len(st.Clients))
	}
	err := filepath.WalkDir(gw.stateDir, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(gw.stateDir, path)
		switch rel {
		case "instance", "lock", "routes.json", "tls/api.key", "tls/api.crt", "identity/tunnel.key", "identity/tunnel.crt", "api.json":
		case "state.json":
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if bytes.Contains(data, []byte("bond0")) {
				t.Errorf("the gateway's desired state names bond0 after the refused start: %s", data)
			}
		default:
			t.Errorf("file in the gateway's state dir after the refused start: %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", gw.stateDir, err)
	}
}

// apiError is an error answer of the API.
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field"`
}

// TestTLSTable is the table of how a gateway meets a hub's API, row by row,
// with real daemons, real OpenVPN and pings through the tunnel:
//
//	hub                    gateway's server_api_url   outcome
//	default (TLS)          https:// with the pin      works, pinned
//	default (TLS)          https:// without a pin     400 naming server_api_pin and `multilink fingerprint`
//	default (TLS)          http:// (the spec's body)  502 carrying the hub's refusal; nothing made
//	--insecure-plain-http  http://                    works, with warnings on both sides
//
// It also proves what the default hub's port answers a plain-HTTP client
// itself: 400 with the refusal as JSON from the gateway's namespace,
// 200 from loopback inside the hub's. The first three rows share one hub
// and gateway; the last has its own pair.
func TestTLSTable(t *testing.T) {
	nstest.HostOnly(t)
	t.Run("default hub", tlsTableDefaultHub)
	t.Run("hub with --insecure-plain-http", tlsTablePlainHub)
}

func tlsTableDefaultHub(t *testing.T) {
	tp := newTopology(t)
	hub := startDaemon(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken)
	gw := startDaemon(t, tp.gw, "127.0.0.1:"+topology.APIPort, testToken, gatewayArgs(t)...)
	if code := hub.call(http.MethodPost, "/v1/server/start", specServerBody(t), nil); code != http.StatusOK {
		t.Fatalf("server start: %d", code)
	}
	pin := hubPin(t, hub)

	// A plain-HTTP client on the network (the gateway's namespace) gets a
	// plain-HTTP answer it can read: 400, the refusal as JSON. Loopback
	// (inside the hub's namespace) is still served plain HTTP.
	code, ctype, body := nsGet(t, tp.gw, hubAPIURL+"/health")
	var refusal map[string]string
	if err := json.Unmarshal(body, &refusal); err != nil || code != http.StatusBadRequest || ctype != "application/json" ||
		len(refusal) != 1 || refusal["error"] != plainRefusal {
		t.Errorf("plain GET /health from the gateway's namespace: %d %q %s, want 400 application/json {\"error\": %q}", code, ctype, body, plainRefusal)
	}
	if lines := waitLogLines(t, hub, "refused plain HTTP", 1); len(lines) != 1 || !strings.Contains(lines[0], "remote="+topology.GwU1) {
		t.Errorf("the hub's log of the refusal (once, naming %s): %q", topology.GwU1, lines)
	}
	code, _, body = nsGet(t, tp.hub, "http://127.0.0.1:"+topology.APIPort+"/health")
	var health struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &health); err != nil || code != http.StatusOK || health.Status != "ok" {
		t.Errorf("plain GET /health on the hub's loopback: %d %s, want 200 status ok", code, body)
	}

	before := sortedLinks(t, tp.gw)

	// http:// (the spec's body): the gateway gets the hub's refusal and
	// passes it on in its 502; it makes nothing.
	t.Run("http:// is refused with the hub's message", func(t *testing.T) {
		var e apiError
		code := gw.call(http.MethodPost, "/v1/client/start", specClientBody(t), &e)
		if code != http.StatusBadGateway || !strings.Contains(e.Error, plainRefusal) {
			t.Errorf("client start with http://: %d %q, want 502 carrying the hub's refusal", code, e.Error)
		}
		for _, s := range []string{"TLS", "--insecure-plain-http", "https://"} {
			if !strings.Contains(e.Error, s) {
				t.Errorf("client start with http://: the error does not name %s: %q", s, e.Error)
			}
		}
		assertGatewayUntouched(t, tp, gw, before)
	})

	// https:// without a pin is refused before the hub is asked.
	t.Run("https:// without a pin is refused", func(t *testing.T) {
		var e apiError
		https := bytes.Replace(specClientBody(t), []byte(`"http://`), []byte(`"https://`), 1)
		if code := gw.call(http.MethodPost, "/v1/client/start", https, &e); code != http.StatusBadRequest ||
			e.Field != "server_api_pin" || !strings.Contains(e.Error, "multilink fingerprint") {
			t.Errorf("https without a pin: %d %+v, want 400 naming server_api_pin and `multilink fingerprint`", code, e)
		}
		assertGatewayUntouched(t, tp, gw, before)
	})

	// https:// with the hub's pin: the key comes over TLS and the bond
	// carries traffic both ways.
	t.Run("https:// with the pin works", func(t *testing.T) {
		var st struct {
			ServerAPIURL string `json:"server_api_url"`
		}
		if code := gw.call(http.MethodPost, "/v1/client/start", withPin(t, specClientBody(t), pin), &st); code != http.StatusOK {
			t.Fatalf("client start with https:// and the pin: %d", code)
		}
		if want := "https://" + topology.HubU1 + ":" + topology.APIPort; st.ServerAPIURL != want {
			t.Errorf("client's server_api_url %q, want %q", st.ServerAPIURL, want)
		}
		waitActive(t, gw, "tap1", 30*time.Second)
		pingOK(t, tp.gw, topology.HubTunnel)
		pingOK(t, tp.hub, topology.GwTunnel)

		// Nothing crossed in cleartext: no warnings anywhere.
		assertNoWarnings(t, hub, "/health", "/v1/server/status")
		assertNoWarnings(t, gw, "/health", "/v1/client/status")
		if l := hub.logLines(plainHTTPWarning); len(l) != 0 {
			t.Errorf("the default hub logs the plain-http warning: %q", l)
		}
		if l := gw.logLines(plainFetchLog); len(l) != 0 {
			t.Errorf("the pinned gateway logs a plain-http fetch: %q", l)
		}
		stopBoth(t, tp, hub, gw)
	})
}

func tlsTablePlainHub(t *testing.T) {
	tp := newTopology(t)
	hub := startDaemon(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken, "--insecure-plain-http")
	gw := startDaemon(t, tp.gw, "127.0.0.1:"+topology.APIPort, testToken, gatewayArgs(t)...)
	if code := hub.call(http.MethodPost, "/v1/server/start", specServerBody(t), nil); code != http.StatusOK {
		t.Fatalf("server start: %d", code)
	}

	// The hub says what the flag costs: at start (Warn), in /health and in
	// its status; and it answers plain HTTP from the network.
	if l := waitLogLines(t, hub, plainHTTPWarning, 1); len(l) != 1 || !strings.Contains(l[0], "level=WARN") {
		t.Errorf("the hub's start-up log: %q, want one Warn with %q", l, plainHTTPWarning)
	}
	assertOneWarning(t, hub, plainHTTPWarning, "/health", "/v1/server/status")
	if code, _, body := nsGet(t, tp.gw, hubAPIURL+"/health"); code != http.StatusOK {
		t.Errorf("plain GET /health from the gateway's namespace: %d %s, want 200 with --insecure-plain-http", code, body)
	}
	// The gateway has nothing to warn of before its client starts.
	assertNoWarnings(t, gw, "/health", "/v1/client/status")

	clientWarning := "client bond0: server_api_url " + hubAPIURL + " is plain http"
	start := func(n int) {
		t.Helper()
		if code := gw.call(http.MethodPost, "/v1/client/start", specClientBody(t), nil); code != http.StatusOK {
			t.Fatalf("client start with http:// (start %d): %d", n, code)
		}
		waitActive(t, gw, "tap1", 30*time.Second)
		pingOK(t, tp.gw, topology.HubTunnel)
		pingOK(t, tp.hub, topology.GwTunnel)
		assertOneWarning(t, gw, clientWarning, "/health", "/v1/client/status")
		l := waitLogLines(t, gw, plainFetchLog, n)
		if len(l) != n {
			t.Errorf("after client start %d the gateway logged %q %d times, want %d: %q", n, plainFetchLog, len(l), n, l)
		}
		for _, line := range l {
			if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "server_api_url="+hubAPIURL) {
				t.Errorf("the gateway's plain-http fetch is not a Warn naming %s: %s", hubAPIURL, line)
			}
		}
	}
	start(1)
	// The client's warning goes with the client, and comes back with it
	// (and is logged again).
	if code := gw.call(http.MethodPost, "/v1/client/stop/bond0", nil, nil); code != http.StatusOK {
		t.Fatalf("client stop: %d", code)
	}
	assertNoWarnings(t, gw, "/health", "/v1/client/status")
	start(2)
	// The hub's warning is the flag's only: one, whatever its clients do.
	assertOneWarning(t, hub, plainHTTPWarning, "/health", "/v1/server/status")
	stopBoth(t, tp, hub, gw)
}
