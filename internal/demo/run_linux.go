package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/topology"
)

// Options configure a demo run.
type Options struct {
	Bin    string // the multilink binary the daemons run (default: this process's)
	Driver string // --bond-driver for the gateway: auto, kernel or ebpf
	Out    io.Writer
	Logger *slog.Logger // the demo's own log (daemons keep theirs)
}

// The spec's example bodies, addresses adapted to the demo's links; the
// client's server_api_url is https:// with the hub's pin (clientStart).
const (
	serverBody = `{"bride_interface": "br0", "bridge_ip": "` + topology.HubTunnel + `", "links": "2"}`
	clientBody = `{
  "server_api_pin": "%s",
  "server_api_url": "https://` + topology.HubU1 + `:` + topology.APIPort + `",
  "bond": {"bond0": {
    "ip_address": "` + topology.GwTunnel + `",
    "slaves": [
      {"hw_int": "u1", "ip_server": "` + topology.HubU1 + `", "netmask": "255.255.255.0"},
      {"hw_int": "u2", "ip_server": "` + topology.HubU2 + `", "netmask": "255.255.255.0"}],
    "bonding": {"bonding_mode": "1", "primary": "tap1", "arp_ip_target": "` + topology.HubTunnel + `",
      "arp_interval": "100", "fail_over_mac": "1", "arp_validate": "5"}}}}`
)

// Run plays the demo and returns its summary. It removes everything it
// made when it ends, also when ctx is cancelled (an interrupt).
func Run(ctx context.Context, o Options) (Summary, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := api.CheckDriver("bond-driver", o.Driver); err != nil {
		return Summary{}, err
	}
	if o.Bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return Summary{}, fmt.Errorf("find the multilink binary: %w", err)
		}
		o.Bin = exe
	}
	dir, err := os.MkdirTemp("", "multilink-demo-")
	if err != nil {
		return Summary{}, fmt.Errorf("make a work dir: %w", err)
	}
	defer os.RemoveAll(dir)
	// The daemons pin their eBPF objects in a bpffs of the demo's own
	// (they mount it there): the host's /sys/fs/bpf is left alone. It goes
	// once they have stopped, before the dir.
	defer func() { _ = unix.Unmount(filepath.Join(dir, "bpffs"), unix.MNT_DETACH) }()
	start := time.Now()
	fmt.Fprintf(o.Out, "multilink demo: a hub and a gateway in network namespaces, two emulated links (u1 = tap1, the primary; u2 = tap2)\n")
	w, err := topology.New(ctx, topology.Options{Prefix: "mldemo", Kind: topology.Emulated, Logger: o.Logger})
	if err != nil {
		return Summary{}, fmt.Errorf("build the namespaces: %w", err)
	}
	defer func() {
		if err := w.Close(); err != nil {
			o.Logger.Warn("demo cleanup", "err", err)
		}
	}()
	fmt.Fprintf(o.Out, "namespaces %s-{hub,gw,net} are up; starting the daemons\n", w.Name)
	hub, gw, err := startDaemons(ctx, w, o, dir)
	if hub != nil {
		defer hub.Stop()
	}
	if gw != nil {
		defer gw.Stop()
	}
	if err != nil {
		return Summary{}, err
	}
	sum, err := play(ctx, w, hub, gw, o, start)
	if err != nil {
		fmt.Fprintf(o.Out, "\nthe gateway's last log lines:\n%s\n", gw.Logs(15))
	}
	return sum, err
}

// startDaemons starts both daemons and sets them up with the spec's
// bodies, through their APIs only.
func startDaemons(ctx context.Context, w *topology.Topology, o Options, dir string) (hub, gw *Daemon, err error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, nil, fmt.Errorf("make a token: %w", err)
	}
	token := hex.EncodeToString(b[:])
	run := func(name string, ns netns.NsHandle, listen string, args ...string) (*Daemon, error) {
		return StartDaemon(ctx, DaemonOptions{Name: name, NS: ns, Bin: o.Bin, StateDir: filepath.Join(dir, name), Listen: listen,
			Token: token, Args: append([]string{"--log-format", "json", "--bpffs", filepath.Join(dir, "bpffs")}, args...)})
	}
	if hub, err = run("hub", w.Hub.Handle, "0.0.0.0:"+topology.APIPort); err != nil {
		return nil, nil, err
	}
	driver := o.Driver
	if driver == "" {
		driver = api.DriverAuto
	}
	if gw, err = run("gateway", w.Gw.Handle, "127.0.0.1:"+topology.APIPort, "--bond-driver", driver); err != nil {
		return hub, nil, err
	}
	if _, err := hub.Call(ctx, http.MethodPost, "/v1/server/start", []byte(serverBody), nil); err != nil {
		return hub, gw, fmt.Errorf("start the hub: %w", err)
	}
	fmt.Fprintf(o.Out, "hub: POST /v1/server/start %s\n", serverBody)
	pin, err := hub.Pin(ctx)
	if err != nil {
		return hub, gw, fmt.Errorf("read the hub's pin: %w", err)
	}
	fmt.Fprintf(o.Out, "hub: multilink fingerprint -> %s\n", pin)
	if _, err := gw.Call(ctx, http.MethodPost, "/v1/client/start", fmt.Appendf(nil, clientBody, pin), nil); err != nil {
		return hub, gw, fmt.Errorf("start the gateway: %w", err)
	}
	fmt.Fprintf(o.Out, "gateway: POST /v1/client/start (the spec's body, addresses adapted, https:// with the hub's pin)\n")
	return hub, gw, nil
}

// play waits for the bond to settle, starts traffic both ways, and plays
// the timeline.
func play(ctx context.Context, w *topology.Topology, hub, gw *Daemon, o Options, start time.Time) (Summary, error) {
	sum := Summary{Driver: bondDriver(ctx, gw), Kernel: kernelRelease(), OK: true}
	if err := waitSettled(ctx, gw, 30*time.Second); err != nil {
		return sum, err
	}
	fmt.Fprintf(o.Out, "bond0 is up on tap1 (driver %s); traffic: an echo every 10 ms each way over the bond\n\n", sum.Driver)
	up, err := NewProber(w.Gw.Handle, netip.MustParseAddr(topology.HubTunnel), 10*time.Millisecond)
	if err != nil {
		return sum, err
	}
	down, err := NewProber(w.Hub.Handle, netip.MustParseAddr(topology.GwTunnel), 10*time.Millisecond)
	if err != nil {
		return sum, err
	}
	pctx, stopProbes := context.WithCancel(ctx)
	defer stopProbes()
	go up.Run(pctx)
	go down.Run(pctx)
	v := &view{out: o.Out, gw: gw, start: start}
	go v.run(pctx)
	if err := sleep(ctx, 3*time.Second); err != nil {
		return sum, err
	}
	for _, st := range timeline() {
		fmt.Fprintf(o.Out, "\n=== %s: traffic should end on %s\n", st.name, st.expect)
		res, err := runStep(ctx, st, w, gw, up, down)
		sum.Steps = append(sum.Steps, res)
		if err != nil {
			return sum, err
		}
		sum.OK = sum.OK && res.OK
	}
	stopProbes()
	sum.Elapsed = time.Since(start).Round(100 * time.Millisecond).String()
	return sum, nil
}

// runStep applies a step, waits for the bond to end on the expected link,
// holds, and measures.
func runStep(ctx context.Context, st step, w *topology.Topology, gw *Daemon, up, down *Prober) (Step, error) {
	res := Step{Name: st.name, Expect: st.expect, At: time.Now()}
	if err := st.do(w.Links[0]); err != nil {
		return res, fmt.Errorf("%s: %w", st.name, err)
	}
	deadline := res.At.Add(st.within)
	for time.Now().Before(deadline) {
		if a := active(ctx, gw); a == st.expect {
			res.SwitchMs = msPtr(time.Since(res.At))
			break
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return res, err
		}
	}
	if err := sleep(ctx, st.hold); err != nil {
		return res, err
	}
	res.Active = active(ctx, gw)
	res.OK = res.Active == st.expect
	for _, e := range events(ctx, gw) {
		if e.Kind == "switch" && e.To == st.expect && !e.At.Before(res.At) {
			res.Reason = e.Reason
			res.DetectionMs = &e.DetectionMs
		}
	}
	end := time.Now().Add(-500 * time.Millisecond) // replies to the last requests may be in flight
	res.BlackoutGwHubMs = float64(up.GapAround(res.At.Add(-time.Second), end).Microseconds()) / 1000
	res.BlackoutHubGwMs = float64(down.GapAround(res.At.Add(-time.Second), end).Microseconds()) / 1000
	l1, s1 := up.Lost(res.At, end)
	l2, s2 := down.Lost(res.At, end)
	res.Lost, res.Sent = l1+l2, s1+s2
	return res, nil
}

func active(ctx context.Context, gw *Daemon) string {
	var b struct {
		Active string `json:"active_slave"`
	}
	if _, err := gw.Call(ctx, http.MethodGet, "/v1/client/bond_params/bond0", nil, &b); err != nil {
		return ""
	}
	return b.Active
}

func bondDriver(ctx context.Context, gw *Daemon) string {
	var b struct {
		Driver string `json:"driver"`
	}
	_, _ = gw.Call(ctx, http.MethodGet, "/v1/client/bond_params/bond0", nil, &b)
	return b.Driver
}

func events(ctx context.Context, gw *Daemon) []eventView {
	var ev []eventView
	_, _ = gw.Call(ctx, http.MethodGet, "/v1/client/events?bond=bond0&limit=512", nil, &ev)
	return ev
}

// waitSettled waits until the bond is on tap1 and both links answer.
func waitSettled(ctx context.Context, gw *Daemon, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var links []linkView
		if _, err := gw.Call(ctx, http.MethodGet, "/v1/client/links", nil, &links); err == nil && len(links) == 2 &&
			links[0].RTT.Smoothed != nil && links[1].RTT.Smoothed != nil && active(ctx, gw) == "tap1" {
			return nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return errors.New("the bond did not settle on tap1 with both links answering within 30 s")
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return strings.TrimSpace(unix.ByteSliceToString(u.Release[:]))
}
