package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestMemoryLimit: the flag when given, else the operator's GOMEMLIMIT
// (left as the runtime applied it), else the flag's default; 0 is none.
func TestMemoryLimit(t *testing.T) {
	running := debug.SetMemoryLimit(-1) // what the runtime has now (reads only)
	for _, c := range []struct {
		name       string
		mib        int
		given      bool
		env        string
		wantLimit  int64
		wantSource string
		wantSet    bool
	}{
		{"default", defaultMemoryLimitMiB, false, "", defaultMemoryLimitMiB << 20, "--memory-limit-mib (default)", true},
		{"flag", 24, true, "", 24 << 20, "--memory-limit-mib", true},
		{"flag off", 0, true, "", math.MaxInt64, "--memory-limit-mib", true},
		{"GOMEMLIMIT kept", defaultMemoryLimitMiB, false, "64MiB", running, "GOMEMLIMIT=64MiB", false},
		{"flag over GOMEMLIMIT", 20, true, "64MiB", 20 << 20, "--memory-limit-mib", true},
	} {
		limit, source, set := memoryLimit(c.mib, c.given, c.env)
		if limit != c.wantLimit || source != c.wantSource || set != c.wantSet {
			t.Errorf("%s: memoryLimit(%d, %v, %q) = %d, %q, %v; want %d, %q, %v",
				c.name, c.mib, c.given, c.env, limit, source, set, c.wantLimit, c.wantSource, c.wantSet)
		}
	}
}

// TestCheckMemoryLimit: 0 and at least minMemoryLimitMiB pass.
func TestCheckMemoryLimit(t *testing.T) {
	for mib, ok := range map[int]bool{0: true, minMemoryLimitMiB: true, defaultMemoryLimitMiB: true, 4096: true,
		-1: false, 1: false, minMemoryLimitMiB - 1: false, math.MaxInt: false} {
		if err := checkMemoryLimit(mib); (err == nil) != ok {
			t.Errorf("checkMemoryLimit(%d) = %v; want ok %v", mib, err, ok)
		}
	}
}
