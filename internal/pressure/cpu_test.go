package pressure

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestParseSomeTotal(t *testing.T) {
	got, err := parseSomeTotal([]byte("some avg10=9.15 avg60=24.41 avg300=10.80 total=2616720464\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"))
	if err != nil || got != 2616720464*time.Microsecond {
		t.Errorf("got %v, %v; want 2616.720464s", got, err)
	}
	for _, bad := range []string{"", "full total=1\n", "some avg10=1 total=x\n"} {
		if _, err := parseSomeTotal([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestWaiting: the share comes from the totals of the oldest sample kept
// and of the file now.
func TestWaiting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu")
	write := func(us int) {
		if err := os.WriteFile(path, []byte("some avg10=0 avg60=0 avg300=0 total="+itoa(us)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(1_000_000)
	c, err := NewCPU(path)
	if err != nil {
		t.Fatal(err)
	}
	c.ring[0].at = time.Now().Add(-time.Second) // sampled a second ago
	write(1_500_000)                            // half a second of stall since
	if w := c.Waiting(); w < 0.45 || w > 0.51 {
		t.Errorf("waiting %.2f, want about 0.5", w)
	}
	if _, err := NewCPU(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing pressure file: no error")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
