package gateway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
	"github.com/multilink/multilink/internal/tunnel"
)

const (
	hubFP     = "11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11"
	rotatedFP = "22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22:22"
)

var rotatedKey = strings.ReplaceAll(testKey, "0000", "1234")

// fakeSteering is a failover engine whose links are all up (all down
// with down): a pin moves the active link at once; pins records every
// pin it was given.
type fakeSteering struct {
	mu       sync.Mutex
	down     bool
	since    time.Time // when the links went down
	now      time.Time // the clock of silence
	active   string
	pinned   string
	links    []string
	pins     []string
	fast     []string // "<link> <fast>" per probeFast
	steadied int      // steady calls not released yet
	held     bool     // steady was in force at some pin
}

func (f *fakeSteering) failover(bond string) (api.FailoverStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := api.FailoverStatus{Bond: bond, Active: f.active, Pin: f.pinned}
	for _, l := range f.links {
		state := api.LinkUp
		if f.down {
			state = api.LinkDown
		}
		st.Links = append(st.Links, api.FailoverLink{Link: l, State: state, Since: f.since})
	}
	return st, true
}

func (f *fakeSteering) proven(string, time.Time) bool { return true }

// silence: the links answer at once while up, not since f.since when down
// (probed every 20 ms); now is f.now.
func (f *fakeSteering) silence(string) (time.Duration, time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down {
		return 0, 20 * time.Millisecond, true
	}
	return f.now.Sub(f.since), 20 * time.Millisecond, true
}

func (f *fakeSteering) probeFast(_, link string, fast bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fast = append(f.fast, fmt.Sprintf("%s %t", link, fast))
}

func (f *fakeSteering) steady(string, time.Duration) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.steadied++
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.steadied--
	}
}

func (f *fakeSteering) pin(_, link string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held = f.held || f.steadied > 0
	f.pins = append(f.pins, link)
	f.pinned = link
	if link != "" {
		f.active = link
	}
	return nil
}

// rotatingGateway starts the spec's client on a new world whose hub runs
// mode, with tap1 active; it returns the world, the fetcher, the engine
// and the gateway.
func rotatingGateway(t *testing.T, tls bool) (*world, *fetcher, *fakeSteering, *Gateway) {
	t.Helper()
	w := newWorld("eth0", "wlan0")
	f := &fetcher{}
	opts := Options{Tunnels: w, Fetcher: f, KeyDir: t.TempDir(), Token: "daemon-token", Mark: "multilink:" + testGatewayID}
	if tls {
		id, err := tunnel.LoadIdentity(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		f.tls, opts.Identity, opts.LinkIdentityDir = hubFP, id, filepath.Join(t.TempDir(), "links")
	}
	g := newGateway(opts, w, bondDriver{w}, nil)
	steer := &fakeSteering{active: "tap1", links: []string{"tap1", "tap2"}}
	g.steer = steer
	if _, err := g.Start(context.Background(), testsupport.SpecClient(t)); err != nil {
		t.Fatal(err)
	}
	return w, f, steer, g
}

// TestRotateStandbyFirst: the standby link is renewed first, traffic is
// pinned to it, then the link that was active is renewed; the pin in
// force before (none) comes back; each link restarts once, with its own
// new secret: a key of its own (static) or a certificate of its own at
// this end and the hub's new one pinned (TLS); a later claim names the
// links' own certificates.
func TestRotateStandbyFirst(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "static", true: "tls"}[tls], func(t *testing.T) {
			w, f, steer, g := rotatingGateway(t, tls)
			before := len(w.Ops())
			out, err := g.Rotate(context.Background(), "bond0")
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Links) != 2 || out.Links[0].Tap != "tap2" || out.Links[0].SwitchedTo != "" ||
				out.Links[1].Tap != "tap1" || out.Links[1].SwitchedTo != "tap2" {
				t.Fatalf("rotation %+v, want tap2 then tap1 switched to tap2", out)
			}
			if want := []string{"br0/2", "br0/1"}; !slices.Equal(f.rotated, want) {
				t.Errorf("hub asked to rotate %v, want %v", f.rotated, want)
			}
			if want := []string{"tap2", ""}; !slices.Equal(steer.pins, want) {
				t.Errorf("pins %q, want %q (traffic to the renewed link, then the engine decides again)", steer.pins, want)
			}
			if !steer.held || steer.steadied != 0 {
				t.Errorf("the bond's own monitor: patient during the rotation %t, holds left after it %d; want true, 0", steer.held, steer.steadied)
			}
			if want := []string{"tap2 true", "tap2 false", "tap1 true", "tap1 false"}; !slices.Equal(steer.fast, want) {
				t.Errorf("probe rates %q, want %q (each renewed link probed fast until it answers)", steer.fast, want)
			}
			if want := []string{"tunnel reconfigure tap2", "tunnel reconfigure tap1"}; !slices.Equal(w.Ops()[before:], want) {
				t.Errorf("changes %q, want %q", w.Ops()[before:], want)
			}
			fps := map[string]bool{}
			for _, rl := range out.Links {
				s := w.tunnels[rl.Tap]
				if !tls {
					data, err := os.ReadFile(s.KeyFile)
					if err != nil || string(data) != rotatedKey || filepath.Base(s.KeyFile) != rl.Tap+".key" {
						t.Errorf("%s runs key %s (%v), want its own new key", rl.Tap, s.KeyFile, err)
					}
					continue
				}
				id, ok, err := tunnel.LinkIdentity(g.opts.LinkIdentityDir, rl.Tap)
				if !ok || err != nil || s.CertFile != id.CertFile || rl.Fingerprint != id.Fingerprint || id.Fingerprint == g.opts.Identity.Fingerprint {
					t.Errorf("%s presents %s, its own is %+v (%v %v), answered %s", rl.Tap, s.CertFile, id, ok, err, rl.Fingerprint)
				}
				if !slices.Equal(s.PeerFingerprints, []string{rotatedFP}) || rl.PeerFingerprint != rotatedFP {
					t.Errorf("%s pins %v (answered %s), want the hub's new %s", rl.Tap, s.PeerFingerprints, rl.PeerFingerprint, rotatedFP)
				}
				fps[rl.Fingerprint] = true
			}
			if tls && len(fps) != 2 {
				t.Errorf("the links share a certificate: %v", fps)
			}
			// The daemon's restart (Close, then a new start) claims with
			// the links' own certificates, by link.
			if err := g.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := g.Start(context.Background(), testsupport.SpecClient(t)); err != nil {
				t.Fatal(err)
			}
			last := f.hubs[len(f.hubs)-1]
			if tls && (len(last.LinkFingerprints) != 2 || last.LinkFingerprints[0] != out.Links[1].Fingerprint || last.LinkFingerprints[1] != out.Links[0].Fingerprint) {
				t.Errorf("the next claim names %v, want tap1's %s and tap2's %s", last.LinkFingerprints, out.Links[1].Fingerprint, out.Links[0].Fingerprint)
			}
			if !tls && last.LinkFingerprints != nil {
				t.Errorf("a static claim names certificates %v", last.LinkFingerprints)
			}
		})
	}
}

// TestRotateRefusedByHub: a hub that refuses changes nothing here: no
// tunnel restarts, no certificate of its own is left, the pin is
// restored, and the error says no link was changed.
func TestRotateRefusedByHub(t *testing.T) {
	w, f, steer, g := rotatingGateway(t, true)
	f.rotateErr = errkind.Conflict("bridge br0 is held by gateway other bond bond9")
	before := len(w.Ops())
	_, err := g.Rotate(context.Background(), "bond0")
	if !errors.Is(err, errkind.ErrConflict) || !strings.Contains(err.Error(), "no link was changed") || !strings.Contains(err.Error(), "held by gateway other") {
		t.Errorf("rotation refused by the hub: %v", err)
	}
	if len(w.Ops()[before:]) != 0 {
		t.Errorf("changes %q, want none", w.Ops()[before:])
	}
	if left, _ := os.ReadDir(g.opts.LinkIdentityDir); len(left) != 0 {
		t.Errorf("identities left: %v", left)
	}
	if st, _ := steer.failover("bond0"); st.Pin != "" {
		t.Errorf("pin %q left", st.Pin)
	}
}

// TestRotateUnknownBond: a bond that is not started is 404.
func TestRotateUnknownBond(t *testing.T) {
	_, _, _, g := rotatingGateway(t, false)
	if _, err := g.Rotate(context.Background(), "bond9"); errkind.KindOf(err) != errkind.KindNotFound {
		t.Errorf("unknown bond: %v", err)
	}
}
