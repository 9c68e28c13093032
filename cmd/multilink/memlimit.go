package main

import (
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
)

// defaultMemoryLimitMiB is --memory-limit-mib's default: the Go runtime's
// soft limit on its own memory (heap, stacks, its bookkeeping; not the
// binary's code and data, which the kernel maps from the file). It keeps a
// gateway within its resident memory budget (issue 30: 30 MB) when its
// API is read hard: the collector runs more often as the heap nears it,
// instead of letting the heap double past what is live
// (docs/benchmarks.md, Footprint).
const defaultMemoryLimitMiB = 16

// minMemoryLimitMiB is the smallest limit taken: below it the idle
// daemon's own memory would keep the collector running all the time.
const minMemoryLimitMiB = 8

// memoryLimitEnv is the Go runtime's own setting, read at its start.
const memoryLimitEnv = "GOMEMLIMIT"

// checkMemoryLimit validates --memory-limit-mib.
func checkMemoryLimit(mib int) error {
	if mib != 0 && (mib < minMemoryLimitMiB || mib > math.MaxInt64>>20) {
		return usagef("--memory-limit-mib %d: want 0 (no limit) or at least %d", mib, minMemoryLimitMiB)
	}
	return nil
}

// memoryLimit is the soft memory limit the daemon runs with, in bytes
// (math.MaxInt64: none), and what chose it: --memory-limit-mib when given,
// else the operator's GOMEMLIMIT (env, its value; the runtime applied it
// already, so set is false), else the flag's default.
func memoryLimit(mib int, given bool, env string) (limit int64, source string, set bool) {
	if !given && env != "" {
		return debug.SetMemoryLimit(-1), memoryLimitEnv + "=" + env, false
	}
	source = "--memory-limit-mib"
	if !given {
		source += " (default)"
	}
	if mib == 0 {
		return math.MaxInt64, source, true
	}
	return int64(mib) << 20, source, true
}

// applyMemoryLimit sets the runtime's soft memory limit as memoryLimit
// says and logs it.
func applyMemoryLimit(log *slog.Logger, mib int, given bool, env string) {
	limit, source, set := memoryLimit(mib, given, env)
	if set {
		debug.SetMemoryLimit(limit)
	}
	if limit == math.MaxInt64 {
		log.Info("no soft memory limit", "source", source)
		return
	}
	log.Info("soft memory limit", "mib", fmt.Sprintf("%.1f", float64(limit)/(1<<20)), "source", source)
}
