package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/bond"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
	"github.com/multilink/multilink/internal/tunnel"
)

// world is a fake host: links, routes and rules (the shared fake netlink),
// tunnels and bonds in memory, every change in one transcript. Its
// methods may be called concurrently.
type world struct {
	*testsupport.FakeNetlink
	mu        sync.Mutex
	tunnels   map[string]tunnel.Spec
	bonds     map[string]bond.Spec
	stopping  chan struct{} // if set, tunnel stops signal stopEnter, then wait for it to close
	stopEnter chan struct{}
	connected time.Time // every tunnel's Status.Connected
}

func newWorld(hw ...string) *world {
	return &world{FakeNetlink: testsupport.NewFakeNetlink(hw...), tunnels: map[string]tunnel.Spec{}, bonds: map[string]bond.Spec{}}
}

func (w *world) Start(_ context.Context, s tunnel.Spec) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.Do("tunnel " + s.Tap); err != nil {
		return err
	}
	w.tunnels[s.Tap] = s
	return nil
}

func (w *world) Reconfigure(_ context.Context, s tunnel.Spec) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.Do("tunnel reconfigure " + s.Tap); err != nil {
		return err
	}
	w.tunnels[s.Tap] = s
	return nil
}

func (w *world) Stop(_ context.Context, tap string) error {
	if w.stopping != nil {
		select {
		case w.stopEnter <- struct{}{}:
		default:
		}
		<-w.stopping
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.tunnels, tap)
	return w.Do("tunnel stop " + tap)
}

func (w *world) Status(tap string) (tunnel.Status, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.tunnels[tap]
	return tunnel.Status{Tap: tap, Port: s.Port, Running: ok, Connected: w.connected}, ok
}

func (w *world) NewSession(tap string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Do("tunnel new session " + tap)
}

func (w *world) Restart(_ context.Context, tap string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Do("tunnel restart " + tap)
}

// fetcher answers like a hub with two links.
type fetcher struct {
	err       error
	gotToken  string
	gotBridge string
	entered   chan struct{} // if set, gets a value when FetchKey is called
	block     chan struct{} // if set, FetchKey waits for it to close
	released  []string      // "<gateway id>/<bond>@<bridge>" per Release
	tls       string        // if set, the bridge runs TLS mode with this hub fingerprint
	key       string        // if set, the static key answered (else testKey)
	hubs      []HubAPI      // per FetchKey
	rotated   []string      // "<bridge>/<link>" per Rotate
	rotateErr error         // if set, Rotate fails with it
	// status is ServerStatus's script: its answers in turn, the last one
	// repeated (none: the hub does not answer); statusCalls counts them.
	status      []statusAnswer
	statusCalls int
}

// statusAnswer is one answer of the fetcher's ServerStatus.
type statusAnswer struct {
	st  api.ServerStatusResponse
	err error
}

func (f *fetcher) ServerStatus(_ context.Context, hub HubAPI) (api.ServerStatusResponse, error) {
	f.statusCalls++
	if len(f.status) == 0 {
		return api.ServerStatusResponse{}, errkind.Unavailable(nil, "reach the hub")
	}
	a := f.status[min(f.statusCalls, len(f.status))-1]
	return a.st, a.err
}

// Rotate answers like a hub: a new fingerprint for a TLS request
// (rotatedFP), a new key (rotatedKey) for a static one; it records
// "<bridge>/<link>" per call.
func (f *fetcher) Rotate(_ context.Context, hub HubAPI, bridge string, r api.RotateRequest) (api.KeyLink, error) {
	f.rotated = append(f.rotated, fmt.Sprintf("%s/%d", bridge, r.Link))
	if f.rotateErr != nil {
		return api.KeyLink{}, f.rotateErr
	}
	l := api.KeyLink{Tap: fmt.Sprintf("tap%d", r.Link), Port: 1190 + r.Link}
	if r.Fingerprint != "" {
		l.Fingerprint = rotatedFP
	} else {
		l.Key = rotatedKey
	}
	return l, nil
}

func (f *fetcher) Release(_ context.Context, hub HubAPI, bridge string) error {
	f.released = append(f.released, hub.GatewayID+"/"+hub.Bond+"@"+bridge)
	return nil
}

const testKey = "-----BEGIN OpenVPN Static key V1-----\n" +
	"00000000000000000000000000000000\n00000000000000000000000000000000\n00000000000000000000000000000000\n00000000000000000000000000000000\n" +
	"00000000000000000000000000000000\n00000000000000000000000000000000\n00000000000000000000000000000000\n00000000000000000000000000000000\n" +
	"00000000000000000000000000000000\n00000000000000000000000000000000\n00000000000000000000000000000000\n00000000000000000000000000000000\n" +
	"00000000000000000000000000000000\n00000000000000000000000000000000\n00000000000000000000000000000000\n00000000000000000000000000000000\n" +
	"-----END OpenVPN Static key V1-----\n"

func (f *fetcher) FetchKey(ctx context.Context, hub HubAPI) (api.Key, error) {
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return api.Key{}, errkind.Unavailable(ctx.Err(), "reach the hub")
		}
	}
	f.gotToken, f.gotBridge = hub.Token, hub.Bridge
	if f.err != nil {
		return api.Key{}, f.err
	}
	f.hubs = append(f.hubs, hub)
	key := testKey
	if f.key != "" {
		key = f.key
	}
	k := api.Key{Bridge: "br0", BridgeIP: "10.8.0.254", Key: key,
		Links: []api.KeyLink{{Tap: "tap1", Port: 1191}, {Tap: "tap2", Port: 1192}}}
	if f.tls != "" {
		k.Key, k.TunnelMode, k.Fingerprint = "", api.TunnelTLS, f.tls
	}
	return k, nil
}

func testGateway(t *testing.T, w *world, f *fetcher) *Gateway {
	return newGateway(Options{Tunnels: w, Fetcher: f, KeyDir: t.TempDir(), Token: "daemon-token"}, w, bondDriver{w}, nil)
}

// startedGateway is a gateway on a new world with the spec's client started.
func startedGateway(t *testing.T) (*world, *Gateway) {
	t.Helper()
	w := newWorld("eth0", "wlan0")
	g := testGateway(t, w, &fetcher{})
	if _, err := g.Start(context.Background(), testsupport.SpecClient(t)); err != nil {
		t.Fatal(err)
	}
	return w, g
}

// startBlocked starts the spec's client on a new world whose hub does not
// answer until f.block closes; it returns once the start has asked the
// hub, with the channel the start's error will come on.
func startBlocked(t *testing.T) (*world, *fetcher, *Gateway, <-chan error) {
	t.Helper()
	w := newWorld("eth0", "wlan0")
	f := &fetcher{entered: make(chan struct{}, 1), block: make(chan struct{})}
	g := testGateway(t, w, f)
	started := make(chan error, 1)
	go func() {
		_, err := g.Start(context.Background(), testsupport.SpecClient(t))
		started <- err
	}()
	<-f.entered
	return w, f, g, started
}

func TestStartStop(t *testing.T) {
	w := newWorld("eth0", "wlan0")
	f := &fetcher{}
	g := testGateway(t, w, f)
	ctx := context.Background()
	st, err := g.Start(ctx, testsupport.SpecClient(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"route table 1296826368 158.42.89.0/24 gw <nil> dev 2",
		"rule pref 1000 fwmark 0x4d4c0000 lookup 1296826368",
		"tunnel tap1",
		"route table 1296826369 192.168.150.0/24 gw <nil> dev 3",
		"rule pref 1000 fwmark 0x4d4c0001 lookup 1296826369",
		"tunnel tap2",
		"bond bond0 tap1,tap2",
	}
	if got := strings.Join(w.Ops(), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("ops:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	t1 := w.tunnels["tap1"]
	if t1.Device != "eth0" || t1.Remote.String() != "158.42.89.111" || t1.Port != 1191 || t1.Mark != 0x4d4c0000 || t1.Role != tunnel.Client {
		t.Errorf("tap1 spec %+v", t1)
	}
	if f.gotToken != "daemon-token" {
		t.Errorf("token sent to hub %q, want the daemon's", f.gotToken)
	}
	if st.Active != "tap1" || len(st.Links) != 2 || st.Links[1].Port != 1192 {
		t.Errorf("status %+v", st)
	}
	if _, err := g.Start(ctx, testsupport.SpecClient(t)); errkind.KindOf(err) != errkind.KindConflict {
		t.Errorf("second start: %v, want conflict", err)
	}
	if err := g.Stop(ctx, "bond0"); err != nil {
		t.Fatal(err)
	}
	if len(w.Routes())+len(w.Rules())+len(w.tunnels)+len(w.bonds) != 0 {
		t.Errorf("left after stop: %v %v %v %v", w.Routes(), w.Rules(), w.tunnels, w.bonds)
	}
	if err := g.Stop(ctx, "bond0"); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("second stop: %v", err)
	}
}

func TestStartRollsBack(t *testing.T) {
	for _, fail := range []string{"route table 1296826369", "rule pref 1000 fwmark 0x4d4c0001", "tunnel tap2", "bond bond0"} {
		t.Run(fail, func(t *testing.T) {
			w := newWorld("eth0", "wlan0")
			w.FailOn(fail)
			g := testGateway(t, w, &fetcher{})
			if _, err := g.Start(context.Background(), testsupport.SpecClient(t)); err == nil {
				t.Fatal("start succeeded")
			}
			if len(w.Routes())+len(w.Rules())+len(w.tunnels)+len(w.bonds) != 0 {
				t.Errorf("left: %v %v %v %v", w.Routes(), w.Rules(), w.tunnels, w.bonds)
			}
			if len(g.Status(context.Background())) != 0 {
				t.Error("failed client listed")
			}
		})
	}
}

func TestStartRefuses(t *testing.T) {
	ctx := context.Background()
	w := newWorld("eth0") // no wlan0
	// The field is named as decoding names a bad wlan0 in the same body.
	data := testsupport.SpecBody(t, "spec_client_start.json")
	var bad api.Client
	decodeErr := json.Unmarshal([]byte(strings.Replace(string(data), `"wlan0"`, `"wlan 0"`, 1)), &bad)
	want := errkind.FieldOf(decodeErr)
	if want != "bond.bond0.slaves[1].hw_int" {
		t.Fatalf("decoding names a bad hw_int %q (%v)", want, decodeErr)
	}
	if _, err := testGateway(t, w, &fetcher{}).Start(ctx, testsupport.SpecClient(t)); errkind.KindOf(err) != errkind.KindInvalid || errkind.FieldOf(err) != want {
		t.Errorf("missing hw_int: %v (field %q, want %q)", err, errkind.FieldOf(err), want)
	}
	if ops := w.Ops(); len(ops) != 0 {
		t.Errorf("ops despite refusal: %v", ops)
	}
	// A netlink failure other than "not found" keeps its detail and is no
	// fault of the request.
	w = newWorld("eth0", "wlan0")
	w.FailLookups(unix.ENOBUFS)
	_, err := testGateway(t, w, &fetcher{}).Start(ctx, testsupport.SpecClient(t))
	if !errors.Is(err, unix.ENOBUFS) || errkind.KindOf(err) == errkind.KindInvalid {
		t.Errorf("netlink failure: %v, want ENOBUFS kept, not invalid", err)
	}
	w = newWorld("eth0", "wlan0")
	f := &fetcher{err: errkind.Unavailable(errors.New("connection refused"), "reach the hub")}
	if _, err := testGateway(t, w, f).Start(ctx, testsupport.SpecClient(t)); errkind.KindOf(err) != errkind.KindUnavailable {
		t.Errorf("hub down: %v, want unavailable", err)
	}
	w = newWorld("eth0", "wlan0", "tap1")
	if _, err := testGateway(t, w, &fetcher{}).Start(ctx, testsupport.SpecClient(t)); errkind.KindOf(err) != errkind.KindConflict {
		t.Errorf("foreign tap1: %v, want conflict", err)
	}
}

func TestArpTargetFromHub(t *testing.T) {
	w := newWorld("eth0", "wlan0")
	c := testsupport.SpecClient(t)
	c.Bonding.ArpIPTarget = nil
	if _, err := testGateway(t, w, &fetcher{}).Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if got := w.bonds["bond0"].Params.ArpIPTarget; len(got) != 1 || got[0].String() != "10.8.0.254" {
		t.Errorf("arp_ip_target %v, want the hub's bridge address", got)
	}
}
