package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// RunOptions configures one VM run.
type RunOptions struct {
	Kernel  Prepared
	Guest   Guest
	Timeout time.Duration // whole VM run, boot to power off
	Memory  int           // MiB
	CPUs    int
	Output  io.Writer // the VM's console, line by line
	WorkDir string    // for the initramfs
}

// Run boots the kernel, runs the guest and returns the console output.
// err is non-nil when the VM crashed, hung or reported no exit status.
func Run(ctx context.Context, o RunOptions) (string, error) {
	initrd, err := initramfs(ctx, o.Kernel, o.Guest)
	if err != nil {
		return "", fmt.Errorf("build initramfs for %s: %w", o.Kernel.Version, err)
	}
	path := filepath.Join(o.WorkDir, "initrd-"+o.Kernel.Version+".cpio")
	if err := os.WriteFile(path, initrd, 0o644); err != nil {
		return "", fmt.Errorf("write initramfs: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	args := []string{
		// thread=single: one host thread runs every vCPU in turn. With the
		// default multi-threaded TCG a guest that patches its own kernel
		// text (static keys flipped by a tc/TCX attach) while another vCPU
		// runs it died of an int3 oops in __netif_receive_skb_core on 6.12:
		// an emulator race, not the guest's. The guest still has CPUs SMP.
		"-accel", "tcg,thread=single", "-cpu", "max", "-smp", strconv.Itoa(o.CPUs), "-m", strconv.Itoa(o.Memory),
		"-nographic", "-no-reboot", "-nic", "none", "-monitor", "none", "-serial", "stdio",
		"-kernel", o.Kernel.Vmlinuz(), "-initrd", path,
		"-append", "console=ttyS0 quiet loglevel=3 panic=-1 oops=panic",
		"-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
	}
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	cmd.Stdin = nil
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start qemu: %w", err)
	}
	var log strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			log.WriteString(line + "\n")
			if o.Output != nil {
				fmt.Fprintln(o.Output, line)
			}
		}
	}()
	werr := cmd.Wait()
	pw.Close()
	<-done
	out := log.String()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return out, fmt.Errorf("kernel %s: VM did not finish within %s", o.Kernel.Version, o.Timeout)
	}
	if werr != nil {
		return out, fmt.Errorf("kernel %s: qemu: %w", o.Kernel.Version, werr)
	}
	if _, ok := exitCode(out); !ok {
		return out, fmt.Errorf("kernel %s: the VM reported no exit status (crash?)", o.Kernel.Version)
	}
	return out, nil
}

// exitCode finds the guest's LAB-EXIT line.
func exitCode(out string) (int, bool) {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "LAB-EXIT: "); ok {
			n, err := strconv.Atoi(v)
			return n, err == nil
		}
	}
	return 0, false
}
