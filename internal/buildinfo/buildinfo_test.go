package buildinfo

import (
	"runtime"
	"testing"
)

func TestRead(t *testing.T) {
	i := Read("1.2.3", "0123456789abcdef0123")
	if i.Version != "1.2.3" || i.Commit != "0123456789ab" || i.GoVersion != runtime.Version() {
		t.Errorf("Read = %+v, want the version, the commit cut to 12 and %s", i, runtime.Version())
	}
	// A test binary records no commit of its own.
	if i := Read("", ""); i.Version != "dev" || i.Commit == "" {
		t.Errorf("Read without build settings = %+v, want dev and a commit or unknown", i)
	}
}
