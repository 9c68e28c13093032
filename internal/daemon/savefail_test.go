package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/testsupport"
)

// failingStore is a store whose writes fail: its directory is missing.
func failingStore(t *testing.T) store {
	return store{path: filepath.Join(t.TempDir(), "missing", stateFile)}
}

func TestStartNotSavedIsUndone(t *testing.T) {
	f := newFixture(t)
	f.store = failingStore(t)
	ctx := context.Background()
	_, err := hubRole{f.roles}.Start(ctx, specServer(t))
	if errkind.KindOf(err) != errkind.KindStorage || !strings.Contains(err.Error(), f.store.path) || !strings.Contains(err.Error(), "undone") {
		t.Fatalf("server start: %v, want a storage error naming %s and the undo", err, f.store.path)
	}
	if f.hub.Running("br0") {
		t.Error("br0 still runs after its start could not be saved")
	}
	_, err = gatewayRole{f.roles}.Start(ctx, testsupport.SpecClient(t))
	if errkind.KindOf(err) != errkind.KindStorage {
		t.Fatalf("client start: %v, want a storage error", err)
	}
	if f.gw.Running("bond0") {
		t.Error("bond0 still runs after its start could not be saved")
	}
}

func TestStopNotSavedChangesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := (hubRole{f.roles}).Start(ctx, specServer(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := (gatewayRole{f.roles}).Start(ctx, testsupport.SpecClient(t)); err != nil {
		t.Fatal(err)
	}
	good := f.store
	f.store = failingStore(t)
	if err := (hubRole{f.roles}).Stop(ctx, "br0"); errkind.KindOf(err) != errkind.KindStorage {
		t.Fatalf("server stop: %v, want a storage error", err)
	}
	if err := (gatewayRole{f.roles}).Stop(ctx, "bond0"); errkind.KindOf(err) != errkind.KindStorage {
		t.Fatalf("client stop: %v, want a storage error", err)
	}
	if !f.hub.Running("br0") || !f.gw.Running("bond0") {
		t.Error("a stop that could not be saved stopped something")
	}
	f.store = good
	if st := f.saved(t); len(st.Servers) != 1 || len(st.Clients) != 1 {
		t.Errorf("saved state changed: %+v", st)
	}
}

func TestBadStateFileStopsTheStart(t *testing.T) {
	for name, data := range map[string]string{
		"empty":     "",
		"blank":     " \n",
		"truncated": `{"servers": [{"bridge_interface": "br0", "bridge_ip"`,
		"garbage":   "\x00\x01not json",
	} {
		t.Run(name, func(t *testing.T) {
			s := newStore(t.TempDir())
			if err := os.WriteFile(s.path, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := s.load()
			if err == nil || !strings.Contains(err.Error(), s.path) || !strings.Contains(err.Error(), "restore it from a backup") {
				t.Fatalf("load: %v, want an error naming %s and what to do", err, s.path)
			}
			if back, _ := os.ReadFile(s.path); string(back) != data {
				t.Error("the state file was changed")
			}
		})
	}
}
