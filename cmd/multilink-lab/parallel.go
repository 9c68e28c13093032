package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/multilink/multilink/internal/lab"
)

// kernelRun is one kernel's VM run.
type kernelRun struct {
	kernel   lab.Kernel
	prepared lab.Prepared
	out      string
	err      error
	took     time.Duration
}

// parallelism is how many VMs run at once: o.parallel if set, else one
// per host CPU up to the number of kernels (QEMU's single-threaded TCG
// keeps a VM on one host thread, so two VMs on two CPUs take about as
// long each as one alone), and one when benchmarks run (their figures
// are not to share the host with another VM).
func parallelism(o options, kernels int) int {
	n := o.parallel
	switch {
	case n > 0:
	case o.bench != "":
		n = 1
	default:
		n = runtime.NumCPU()
	}
	return max(1, min(n, kernels))
}

// runKernels prepares each kernel (one after the other: they share the
// package cache) and runs the guest on them, parallelism(o) VMs at once;
// the runs come back in the order of kernels. The first kernel is the
// lead (package lab: the tests that run on one kernel only).
func runKernels(ctx context.Context, o options, kernels []lab.Kernel, guest lab.Guest, work string, stdout io.Writer) ([]kernelRun, error) {
	runs := make([]kernelRun, len(kernels))
	for i, k := range kernels {
		p, err := lab.Prepare(ctx, k, o.cache)
		if err != nil {
			return nil, fmt.Errorf("prepare kernel %s: %w", k.Name, err)
		}
		runs[i] = kernelRun{kernel: k, prepared: p}
	}
	n := parallelism(o, len(kernels))
	if n > 1 {
		names := make([]string, len(kernels))
		for i, k := range kernels {
			names[i] = k.Name
		}
		fmt.Fprintf(stdout, "running %s at once (%d VMs)\n", strings.Join(names, ", "), n)
	}
	var mu sync.Mutex // stdout, when consoles stream
	var g errgroup.Group
	g.SetLimit(n)
	for i := range runs {
		g.Go(func() error {
			r := &runs[i]
			gu := guest
			gu.Lead = i == 0
			var console io.Writer
			if o.verbose {
				console = &prefixed{w: stdout, mu: &mu, prefix: "[" + r.kernel.Name + "] "}
			}
			start := time.Now()
			r.out, r.err = lab.Run(ctx, lab.RunOptions{Kernel: r.prepared, Guest: gu,
				Timeout: o.timeout, Memory: o.memory, CPUs: o.cpus, Output: console, WorkDir: work})
			r.took = time.Since(start)
			// Saved at once: a long run (the benchmarks, a kernel after
			// another) keeps what finished if stopped later.
			if err := os.WriteFile(consoleLog(work, r.prepared), []byte(r.out), 0o644); err != nil {
				return fmt.Errorf("save console log: %w", err)
			}
			mu.Lock()
			fmt.Fprintf(stdout, "kernel %s done after %s: %s\n", r.kernel.Name, r.took.Round(time.Second), consoleLog(work, r.prepared))
			mu.Unlock()
			return nil // a run's failure is its own result, reported in order
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return runs, nil
}

// consoleLog is where a kernel's console output is kept.
func consoleLog(work string, p lab.Prepared) string {
	return filepath.Join(work, "console-"+p.Version+".log")
}

// prefixed writes each line with a prefix, one writer at a time.
type prefixed struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix string
}

func (p *prefixed) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(p.w, p.prefix+line); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}
