package main

import (
	"slices"
	"testing"
)

// TestBenchEnv: only the benchmarks' plain settings reach the VM's plan.
func TestBenchEnv(t *testing.T) {
	got := benchEnv([]string{
		"MULTILINK_BENCH_REPS=3",
		"MULTILINK_BENCH_TRACE=1",
		"MULTILINK_BIN=/x",                // not a bench setting
		"MULTILINK_BENCH_BAD=a b",         // would split the plan's line
		"MULTILINK_BENCH_SHELL=$(reboot)", // would reach the guest's shell
		"PATH=/usr/bin",
		"MULTILINK_BENCH_NOVALUE",
	})
	want := []string{"MULTILINK_BENCH_REPS=3", "MULTILINK_BENCH_TRACE=1"}
	if !slices.Equal(got, want) {
		t.Errorf("benchEnv = %q, want %q", got, want)
	}
}
