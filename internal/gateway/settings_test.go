package gateway

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/probe"
)

// TestSettingsIdleInterval: the config file's probe idle_interval_ms is
// probe.DefaultIdleInterval when absent (interval_ms when that is longer),
// 0 turns it off, and one below interval_ms or out of range is refused
// naming it.
func TestSettingsIdleInterval(t *testing.T) {
	for body, want := range map[string]time.Duration{
		`{}`:                         probe.DefaultIdleInterval,
		`{"idle_interval_ms": 0}`:    0,
		`{"idle_interval_ms": 2000}`: 2 * time.Second,
		`{"interval_ms": 1000}`:      time.Second,
		`{"interval_ms": 50, "idle_interval_ms": 50}`: 50 * time.Millisecond,
	} {
		po, _, err := settings(json.RawMessage(body), nil)
		if err != nil || po.IdleInterval != want {
			t.Errorf("%s: idle %s, %v; want %s", body, po.IdleInterval, err, want)
		}
	}
	for _, body := range []string{`{"idle_interval_ms": 10}`, `{"idle_interval_ms": 2}`, `{"idle_interval_ms": 70000}`} {
		_, _, err := settings(json.RawMessage(body), nil)
		if errkind.KindOf(err) != errkind.KindInvalid || errkind.FieldOf(err) != "idle_interval" {
			t.Errorf("%s: %v (field %q), want invalid naming idle_interval", body, err, errkind.FieldOf(err))
		}
	}
}
