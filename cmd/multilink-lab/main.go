// Command multilink-lab runs multilink's kernel tests on Debian's stock
// kernels under QEMU (see package lab).
//
//	multilink-lab [--kernels 6.1,6.12] [--packages ./internal/bond,./internal/tunnel,./e2e] [--run REGEX] [-v]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/multilink/multilink/internal/lab"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "multilink-lab:", err)
		os.Exit(1)
	}
}

type options struct {
	kernels  string
	packages string
	run      string
	bench    string
	cache    string
	work     string
	timeout  time.Duration
	verbose  bool
	memory   int
	cpus     int
	parallel int
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("multilink-lab", flag.ContinueOnError)
	fs.StringVar(&o.kernels, "kernels", "6.1,6.12", "kernels to run on (names: 6.1, 6.12)")
	fs.StringVar(&o.packages, "packages", "./internal/nstest,./internal/tunnel,./internal/bond,./internal/probe,./internal/dedup,./internal/tcattach,./e2e", "test packages to run in the VM")
	fs.StringVar(&o.run, "run", "", "only tests matching this regexp (go test -run)")
	fs.StringVar(&o.bench, "bench", "", "also run benchmarks matching this regexp, once each (go test -bench)")
	fs.StringVar(&o.cache, "cache", "/var/cache/multilink-lab", "where kernel packages are kept")
	fs.StringVar(&o.work, "work", "", "work dir, not under /tmp: the VM mounts its own /tmp (default .cache/lab in the checkout, or /var/tmp/multilink-lab/<hash of its path> for a checkout under /tmp)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "limit for one kernel's whole run (CI: about 25 minutes for 6.1, 15 for 6.12, run at once on two CPUs)")
	fs.BoolVar(&o.verbose, "v", false, "stream the VM's console")
	fs.IntVar(&o.memory, "memory", 2048, "VM memory in MiB")
	fs.IntVar(&o.cpus, "cpus", 2, "VM CPUs")
	fs.IntVar(&o.parallel, "parallel", 0, "kernels run at once (0: one per host CPU, up to the kernels given; 1 with -bench: figures are not measured beside another VM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	kernels, err := pickKernels(o.kernels)
	if err != nil {
		return err
	}
	checkout, err := checkoutDir()
	if err != nil {
		return err
	}
	work, err := workDir(o.work, checkout)
	if err != nil {
		return err
	}
	plan, names, err := buildPlan(ctx, o, checkout, work)
	if err != nil {
		return err
	}
	guest := lab.Guest{Script: filepath.Join(checkout, "internal", "lab", "guest.sh"), Plan: plan}
	if lab.UnderTmp(checkout) {
		guest.Keep = checkout
	}
	total := [3]int{}
	failed := false
	var said []string // failed tests' own words, repeated last where a log tail shows them
	runs, err := runKernels(ctx, o, kernels, guest, work, stdout)
	if err != nil {
		return err
	}
	for _, kr := range runs {
		k, p, out, runErr := kr.kernel, kr.prepared, kr.out, kr.err
		fmt.Fprintf(stdout, "=== KERNEL %s (%s)\n", k.Name, p.Version)
		r := lab.Parse(out, names)
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "Benchmark") || strings.Contains(line, "BENCH ") {
				fmt.Fprintf(stdout, "[%s] %s\n", k.Name, strings.TrimSpace(line))
			}
		}
		for _, res := range r.Results {
			fmt.Fprintf(stdout, "--- %s: %s/%s [%s]\n", res.Status, res.Package, res.Test, k.Name)
			if res.Status == "FAIL" {
				said = append(said, fmt.Sprintf("failed %s/%s [%s]:", res.Package, res.Test, k.Name))
				for _, l := range res.Output {
					said = append(said, "    "+l)
				}
			}
		}
		if !o.verbose && !r.OK() {
			fmt.Fprintf(stdout, "console of kernel %s:\n%s\n", k.Name, out)
		}
		for _, o := range r.Oops {
			said = append(said, fmt.Sprintf("kernel report during %s/%s [%s]:", o.Package, o.Test, k.Name))
			for _, l := range o.Lines {
				said = append(said, "    "+l)
			}
		}
		for _, pr := range r.Problems {
			fmt.Fprintf(stdout, "PROBLEM [%s]: %s\n", k.Name, pr)
		}
		pass, fail, skip := r.Counts()
		if runErr != nil {
			fmt.Fprintf(stdout, "PROBLEM [%s]: %v\n", k.Name, runErr)
			fail++
		}
		if r.Kernel != "" && r.Kernel != p.Version {
			fmt.Fprintf(stdout, "PROBLEM [%s]: booted %s, wanted %s\n", k.Name, r.Kernel, p.Version)
			fail++
		}
		if runErr != nil || !r.OK() {
			failed = true
		}
		fmt.Fprintf(stdout, "kernel %s (%s): %d passed, %d failed, %d skipped in %s\n", k.Name, p.Version, pass, fail, skip, kr.took.Round(time.Second))
		total[0], total[1], total[2] = total[0]+pass, total[1]+fail, total[2]+skip
	}
	if failed && total[1] == 0 {
		total[1] = 1 // a crash or a missing result is a failure, never a pass
	}
	for _, l := range said {
		fmt.Fprintln(stdout, l)
	}
	fmt.Fprintf(stdout, "lab: %d passed, %d failed, %d skipped\n", total[0], total[1], total[2])
	if failed {
		return errors.New("kernel lab failed")
	}
	return nil
}

func pickKernels(list string) ([]lab.Kernel, error) {
	var out []lab.Kernel
	for _, name := range strings.Split(list, ",") {
		found := false
		for _, k := range lab.Kernels {
			if k.Name == strings.TrimSpace(name) {
				out = append(out, k)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown kernel %q", name)
		}
	}
	return out, nil
}

// checkoutDir is the current directory, the checkout's root, with
// symlinks resolved: the guest sees the host's paths, except that its /tmp
// is a fresh one.
func checkoutDir() (string, error) {
	wd, err := os.Getwd()
	if err == nil {
		wd, err = filepath.EvalSymlinks(wd)
	}
	if err != nil {
		return "", fmt.Errorf("find the checkout: %w", err)
	}
	return wd, nil
}

// workDir creates the work dir (given, or the default for checkout) and
// returns its resolved path, refusing one under /tmp.
func workDir(given, checkout string) (string, error) {
	work := given
	if work == "" {
		work = lab.DefaultWorkDir(checkout)
	}
	errTmp := fmt.Errorf("--work %s must not be under /tmp: the VM mounts a fresh /tmp", work)
	work, err := filepath.Abs(work)
	if err != nil {
		return "", fmt.Errorf("resolve work dir: %w", err)
	}
	if lab.UnderTmp(work) {
		return "", errTmp
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return "", fmt.Errorf("create work dir: %w", err)
	}
	if work, err = filepath.EvalSymlinks(work); err != nil {
		return "", fmt.Errorf("resolve work dir: %w", err)
	}
	if lab.UnderTmp(work) {
		return "", errTmp
	}
	return work, nil
}

// buildPlan compiles the test binaries and the multilink binary into work
// and writes the plan guest.sh follows. It returns the plan's path and the
// package names in it. Package paths are relative to checkout.
func buildPlan(ctx context.Context, o options, checkout, work string) (string, []string, error) {
	var b strings.Builder
	if strings.Contains(o.packages, "e2e") {
		// The end-to-end tests run the real binary.
		bin := filepath.Join(work, "multilink")
		if err := goCmd(ctx, "build", "-o", bin, "./cmd/multilink"); err != nil {
			return "", nil, err
		}
		fmt.Fprintf(&b, "env MULTILINK_BIN=%s\n", bin)
		if o.bench != "" {
			// Another build, for the benchmarks' upgrade cases.
			up := filepath.Join(work, "multilink-upgrade")
			if err := goCmd(ctx, "build", "-ldflags", "-X main.version=upgrade", "-o", up, "./cmd/multilink"); err != nil {
				return "", nil, err
			}
			fmt.Fprintf(&b, "env MULTILINK_BIN_UPGRADE=%s\n", up)
		}
	}
	for _, kv := range benchEnv(os.Environ()) {
		fmt.Fprintf(&b, "env %s\n", kv)
	}
	var names []string
	for _, pkg := range strings.Split(o.packages, ",") {
		pkg = strings.TrimSpace(pkg)
		name := filepath.Base(pkg)
		test := filepath.Join(work, name+".test")
		_ = os.Remove(test)
		if err := goCmd(ctx, "test", "-c", "-o", test, pkg); err != nil {
			return "", nil, err
		}
		if _, err := os.Stat(test); err != nil {
			return "", nil, fmt.Errorf("package %s has no tests", pkg)
		}
		dir := pkg
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(checkout, pkg)
		}
		args := "-test.v -test.count=1 -test.timeout=" + (o.timeout - time.Minute).String()
		if o.run != "" {
			args += " -test.run=" + o.run
		}
		if o.bench != "" {
			args += " -test.bench=" + o.bench + " -test.benchtime=1x"
		}
		fmt.Fprintf(&b, "%s %s %s %s\n", name, dir, test, args)
		names = append(names, name)
	}
	plan := filepath.Join(work, "plan")
	if err := os.WriteFile(plan, []byte(b.String()), 0o644); err != nil {
		return "", nil, fmt.Errorf("write plan: %w", err)
	}
	return plan, names, nil
}

func goCmd(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// benchEnv is what of env the VM's tests get as well: the benchmarks'
// settings (MULTILINK_BENCH_REPS and the like), the names and values
// plain enough for the plan's one-line env entries.
func benchEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "MULTILINK_BENCH_") || strings.ContainsAny(v, " \t\n'\"\\$`") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
