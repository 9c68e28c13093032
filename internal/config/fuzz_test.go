package config

import (
	"testing"

	"github.com/multilink/multilink/internal/errkind"
)

// FuzzParseFile feeds any bytes to the config file's decoder: it may not
// panic, every error is KindInvalid, and an accepted file re-validates.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte(specValues))
	f.Add([]byte(`{"servers": [{"bride_interface": "br0", "bridge_ip": "10.8.0.254", "links": "2"}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"a": 1, "a": 2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile(data)
		if err != nil {
			if k := errkind.KindOf(err); k != errkind.KindInvalid {
				t.Fatalf("kind %d for %q: %v", k, data, err)
			}
			return
		}
		if err := file.Check(); err != nil {
			t.Fatalf("accepted file fails Check: %v", err)
		}
	})
}
