package e2e

import (
	"bytes"
	"context"
	bo "encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// requireTcpdump requires tcpdump on PATH: under CI (CI set) its absence
// fails the test, since CI installs what the tests need; elsewhere it
// skips (and fails in the kernel lab, as nstest.Require does).
func requireTcpdump(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil && os.Getenv("CI") != "" {
		t.Fatalf("tcpdump is not on PATH, but CI is set: CI must install it (.ci/deps, Debian package tcpdump): %v", err)
	}
	nstest.RequireCommand(t, "tcpdump")
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// capture is a tcpdump recording every frame of one interface of a
// namespace into a pcap file.
type capture struct {
	dev    string
	file   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
	once   sync.Once
	data   []byte
}

// startTcpdump runs tcpdump with args inside ns, its output into stdout
// (nil: discarded), and returns once it says it is listening (bounded),
// with its stderr and the channel its exit arrives on.
func startTcpdump(t testing.TB, ns *nstest.NS, stdout *syncBuffer, args ...string) (*exec.Cmd, *syncBuffer, chan error) {
	t.Helper()
	stderr := &syncBuffer{}
	cmd := ns.Command(context.Background(), "tcpdump", args...)
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start tcpdump %v in %s: %v", args, ns.Name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(stderr.String(), "listening on") {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("tcpdump %v in %s ended before listening: %v\n%s", args, ns.Name, err, stderr.String())
		case <-deadline:
			t.Fatalf("tcpdump %v in %s is not listening after 10 s:\n%s", args, ns.Name, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return cmd, stderr, done
}

// interruptTcpdump ends tcpdump with SIGINT (it writes out what it holds
// and its counts) and waits for it, SIGKILL after 10 s. It returns the
// exit error unless the exit was SIGINT's, and whether it had to kill.
func interruptTcpdump(cmd *exec.Cmd, done chan error) (error, bool) {
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && (!errors.As(err, &ee) || !ee.Exited() && ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT) {
			return err, false
		}
		return nil, false
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return nil, true
	}
}

// startCapture runs tcpdump on dev inside ns, writing every frame whole
// (-s 0) and at once (-U) to a file, and returns once tcpdump says it is
// listening (bounded). The test's end stops it if the test did not.
func startCapture(t testing.TB, ns *nstest.NS, dev string) *capture {
	t.Helper()
	c := &capture{dev: dev, file: filepath.Join(t.TempDir(), dev+".pcap")}
	// -Z root: tcpdump would otherwise drop to its own user before opening
	// the file, which it then cannot write in the test's temporary dir.
	c.cmd, c.stderr, c.done = startTcpdump(t, ns, nil, "-i", dev, "-n", "-s", "0", "-U", "-Z", "root", "-w", c.file)
	t.Cleanup(func() { c.stop(t) })
	return c
}

// stop ends tcpdump (interruptTcpdump), checks that the kernel dropped no
// frame, and returns the pcap file's bytes.
func (c *capture) stop(t testing.TB) []byte {
	t.Helper()
	c.once.Do(func() {
		err, killed := interruptTcpdump(c.cmd, c.done)
		switch {
		case killed:
			t.Errorf("tcpdump on %s did not stop within 10 s of SIGINT; killed", c.dev)
		case err != nil:
			t.Errorf("tcpdump on %s: %v\n%s", c.dev, err, c.stderr.String())
		}
		if m := regexp.MustCompile(`(\d+) packets? dropped by kernel`).FindStringSubmatch(c.stderr.String()); m == nil || m[1] != "0" {
			t.Errorf("tcpdump on %s: not every frame recorded:\n%s", c.dev, c.stderr.String())
		}
		data, err := os.ReadFile(c.file)
		if err != nil {
			t.Errorf("read the capture of %s: %v", c.dev, err)
		}
		c.data = data
	})
	return c.data
}

// pcapFrames splits a pcap file (either byte order, micro- or nanosecond
// stamps) into its frames, and returns its link type.
func pcapFrames(data []byte) ([][]byte, uint32, error) {
	if len(data) < 24 {
		return nil, 0, fmt.Errorf("%d bytes, shorter than a pcap header", len(data))
	}
	var order bo.ByteOrder
	switch bo.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		order = bo.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = bo.BigEndian
	default:
		return nil, 0, fmt.Errorf("not a pcap file (magic % x)", data[:4])
	}
	link := order.Uint32(data[20:])
	var frames [][]byte
	for rest := data[24:]; len(rest) > 0; {
		if len(rest) < 16 {
			return frames, link, fmt.Errorf("truncated record header after %d frames", len(frames))
		}
		n := int(order.Uint32(rest[8:]))
		if len(rest) < 16+n {
			return frames, link, fmt.Errorf("truncated frame after %d frames", len(frames))
		}
		frames = append(frames, rest[16:16+n])
		rest = rest[16+n:]
	}
	return frames, link, nil
}

// wireSummary is what a capture saw, by kind of traffic.
type wireSummary struct {
	frames       int
	apiSegments  int         // TCP segments with payload to or from the API port
	clientHellos int         // ... to the API port, starting a TLS handshake record (0x16 0x03)
	plainHTTP    int         // ... to the API port, starting "GET " (plain HTTP)
	udpByPort    map[int]int // UDP datagrams by the hub's port (either direction)
}

// summarize reads Ethernet frames of IPv4 TCP and UDP.
func summarize(t testing.TB, dev string, data []byte) wireSummary {
	t.Helper()
	frames, link, err := pcapFrames(data)
	if err != nil {
		t.Fatalf("capture of %s: %v", dev, err)
	}
	if link != 1 {
		t.Fatalf("capture of %s: link type %d, want 1 (Ethernet)", dev, link)
	}
	api, _ := strconv.Atoi(topology.APIPort)
	s := wireSummary{frames: len(frames), udpByPort: map[int]int{}}
	for _, f := range frames {
		if len(f) < 14+20 || bo.BigEndian.Uint16(f[12:]) != 0x0800 {
			continue
		}
		ip := f[14:]
		ihl, total := int(ip[0]&0x0f)*4, int(bo.BigEndian.Uint16(ip[2:]))
		if ihl < 20 || total < ihl || total > len(ip) {
			continue
		}
		proto, l4 := ip[9], ip[ihl:total]
		if len(l4) < 8 {
			continue
		}
		src, dst := int(bo.BigEndian.Uint16(l4)), int(bo.BigEndian.Uint16(l4[2:]))
		switch proto {
		case 6: // TCP
			if len(l4) < 20 || int(l4[12]>>4)*4 > len(l4) {
				continue
			}
			payload := l4[int(l4[12]>>4)*4:]
			if len(payload) == 0 || (src != api && dst != api) {
				continue
			}
			s.apiSegments++
			if dst == api && bytes.HasPrefix(payload, []byte{0x16, 0x03}) {
				s.clientHellos++
			}
			if dst == api && (bytes.HasPrefix(payload, []byte("GET ")) || bytes.HasPrefix(payload, []byte("POST "))) {
				s.plainHTTP++
			}
		case 17: // UDP
			s.udpByPort[src]++
			if dst != src {
				s.udpByPort[dst]++
			}
		}
	}
	return s
}

// wire is what crossed the hub's underlays during one client's life, and
// the secrets that could have crossed.
type wire struct {
	pcap    map[string][]byte // by the hub's interface: u1, u2
	summary map[string]wireSummary
	ports   map[string]int // the hub's OpenVPN port of each underlay
	secrets []string       // the token, the key's header, the key's lines
}

// keyLines are the lines of an OpenVPN static key file's body: 16 lines
// of 32 hex digits.
func keyLines(t testing.TB, key string) []string {
	t.Helper()
	var out []string
	hex := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, l := range strings.Split(key, "\n") {
		if l = strings.TrimSpace(l); hex.MatchString(l) {
			out = append(out, l)
		}
	}
	if len(out) != 16 || !strings.Contains(key, "-----BEGIN OpenVPN Static key V1-----") {
		t.Fatalf("the hub's key is not an OpenVPN static key of 16 hex lines (%d found)", len(out))
	}
	return out
}

// pemLines are the base64 lines of the PEM file at path (its secret
// body, without the BEGIN and END lines).
func pemLines(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "-----") {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no PEM body", path)
	}
	return out
}

// captureClientLife records every frame on both of the hub's underlays
// while a gateway starts its client (https:// with the hub's pin, or with
// plain the spec's http:// to a hub with --insecure-plain-http), sends
// pings through the bond both ways, and stops the client (and then the
// hub's server, started with serverBody: TLS or static tunnels).
func captureClientLife(t *testing.T, plain bool, serverBody []byte) wire {
	tp := newTopology(t)
	var hubArgs []string
	if plain {
		hubArgs = append(hubArgs, "--insecure-plain-http")
	}
	hub := startDaemon(t, tp.hub, "0.0.0.0:"+topology.APIPort, testToken, hubArgs...)
	gw := startDaemon(t, tp.gw, "127.0.0.1:"+topology.APIPort, testToken, gatewayArgs(t)...)
	var st struct {
		TunnelMode string `json:"tunnel_mode"`
		Links      []struct {
			Tap  string `json:"tap"`
			Port int    `json:"port"`
		} `json:"links"`
	}
	if code := hub.call(http.MethodPost, "/v1/server/start", serverBody, &st); code != http.StatusOK || len(st.Links) != 2 {
		t.Fatalf("server start: %d, %d links", code, len(st.Links))
	}
	w := wire{pcap: map[string][]byte{}, summary: map[string]wireSummary{}, ports: map[string]int{},
		secrets: []string{testToken, "Authorization: Bearer"}}
	for _, l := range st.Links {
		w.ports[map[string]string{"tap1": "u1", "tap2": "u2"}[l.Tap]] = l.Port
	}
	// The secrets, read on the hub over loopback or from the state dirs
	// (not on the underlays).
	switch st.TunnelMode {
	case "static":
		var key struct {
			Key string `json:"key"`
		}
		if code := hub.call(http.MethodGet, "/v1/server/key", nil, &key); code != http.StatusOK {
			t.Fatalf("the hub's key: %d", code)
		}
		w.secrets = append(append(w.secrets, "OpenVPN Static key"), keyLines(t, key.Key)...)
	case "tls":
		w.secrets = append(w.secrets, "PRIVATE KEY")
		for _, d := range []*daemon{hub, gw} {
			w.secrets = append(w.secrets, pemLines(t, filepath.Join(d.stateDir, "identity", "tunnel.key"))...)
		}
	default:
		t.Fatalf("tunnel mode %q", st.TunnelMode)
	}

	body := specClientBody(t)
	if !plain {
		body = pinned(t, hub, body)
	}
	caps := []*capture{startCapture(t, tp.hub, "u1"), startCapture(t, tp.hub, "u2")}
	if code := gw.call(http.MethodPost, "/v1/client/start", body, nil); code != http.StatusOK {
		t.Fatalf("client start: %d", code)
	}
	waitActive(t, gw, "tap1", 30*time.Second)
	waitSettled(t, gw) // both links up, probed through their tunnels
	pingOK(t, tp.gw, topology.HubTunnel)
	pingOK(t, tp.hub, topology.GwTunnel)
	tp.gw.Run(t, "ping", "-c", "5", "-i", "0.2", "-W", "2", topology.HubTunnel)
	stopBoth(t, tp, hub, gw) // the client stops, then the server; nothing is left
	for _, c := range caps {
		w.pcap[c.dev] = c.stop(t)
		w.summary[c.dev] = summarize(t, c.dev, w.pcap[c.dev])
		t.Logf("%s: %d bytes of capture, %+v", c.dev, len(w.pcap[c.dev]), w.summary[c.dev])
	}
	return w
}

// assertTunnelsSeen fails unless each underlay's capture has OpenVPN's
// UDP traffic on its link's port.
func (w wire) assertTunnelsSeen(t testing.TB) {
	t.Helper()
	for _, dev := range []string{"u1", "u2"} {
		if n := w.summary[dev].udpByPort[w.ports[dev]]; n < 2 {
			t.Errorf("%s: %d UDP datagrams on the hub's OpenVPN port %d, want the tunnel's traffic", dev, n, w.ports[dev])
		}
	}
}

// TestNoSecretsOnTheWire records every frame on both of the hub's
// underlays (tcpdump in the hub's namespace, on u1 and u2) while the
// gateway starts its client in the default setup (https:// with the hub's
// pin; TLS tunnels, and the spec's static-key tunnels asked for), pings
// cross the bond both ways, and the client stops; then it reads the
// captures as raw bytes. Neither the API token, nor an "Authorization:
// Bearer" header, nor any line of a private key (TLS: both ends' tunnel
// keys; static: the OpenVPN static key's header and its 16 hex lines) is
// anywhere in them; yet they hold the claim's TLS (a handshake record to
// the API port) and both tunnels' OpenVPN UDP traffic. As the control,
// the same recording with the hub on --insecure-plain-http and the spec's
// http:// holds the token, the header and the whole static key: the
// check catches a leak.
func TestNoSecretsOnTheWire(t *testing.T) {
	nstest.HostOnly(t)
	requireTcpdump(t)
	for mode, body := range map[string]func(testing.TB) []byte{"tls": specServerBody, "static": staticServerBody} {
		t.Run(mode+" tunnels, https with the pin", func(t *testing.T) {
			w := captureClientLife(t, false, body(t))
			for dev, data := range w.pcap {
				for _, s := range w.secrets {
					if bytes.Contains(data, []byte(s)) {
						t.Errorf("%s: the capture holds %q in cleartext", dev, s)
					}
				}
			}
			if u1 := w.summary["u1"]; u1.clientHellos < 1 || u1.plainHTTP != 0 || u1.apiSegments < 4 {
				t.Errorf("u1: the claim is not TLS on the API port: %+v", u1)
			}
			w.assertTunnelsSeen(t)
		})
	}
	t.Run("control: plain http, static tunnels", func(t *testing.T) {
		w := captureClientLife(t, true, staticServerBody(t))
		all := bytes.Join([][]byte{w.pcap["u1"], w.pcap["u2"]}, nil)
		for _, s := range w.secrets {
			if !bytes.Contains(all, []byte(s)) {
				t.Errorf("the plain-http capture does not hold %q: the check could not catch a leak", s)
			}
		}
		if u1 := w.summary["u1"]; u1.plainHTTP < 1 || u1.clientHellos != 0 {
			t.Errorf("u1: the key request is not plain HTTP on the API port: %+v", u1)
		}
		w.assertTunnelsSeen(t)
	})
}
