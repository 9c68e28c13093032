package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Kernel is a Debian kernel to test on, named by its apt meta package.
type Kernel struct {
	Name string // short name used in output, e.g. "6.1"
	Meta string // Debian meta package, e.g. linux-image-amd64
}

// Kernels are the lab's default kernels: Debian bookworm's 6.1 and 6.12.
var Kernels = []Kernel{
	{Name: "6.1", Meta: "linux-image-amd64"},
	{Name: "6.12", Meta: "linux-image-6.12-amd64"},
}

// Prepared is a kernel unpacked in the cache, ready to boot.
type Prepared struct {
	Kernel
	Version string // uname -r, e.g. 6.1.0-56-amd64
	Root    string // extracted package root (boot/, lib/modules/)
}

// Vmlinuz is the kernel image path.
func (p Prepared) Vmlinuz() string { return filepath.Join(p.Root, "boot", "vmlinuz-"+p.Version) }

// ModDir is the kernel's module directory.
func (p Prepared) ModDir() string { return filepath.Join(p.Root, "lib", "modules", p.Version) }

// Prepare resolves k's meta package to the real one, downloads and unpacks
// it into cache unless it is there already, and writes modules.dep.
func Prepare(ctx context.Context, k Kernel, cache string) (Prepared, error) {
	pkg, err := resolve(ctx, k.Meta)
	if err != nil {
		return Prepared{}, err
	}
	version := strings.TrimPrefix(pkg, "linux-image-")
	p := Prepared{Kernel: k, Version: version, Root: filepath.Join(cache, version)}
	if _, err := os.Stat(filepath.Join(p.ModDir(), "modules.dep")); err == nil {
		return p, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return Prepared{}, fmt.Errorf("create cache: %w", err)
	}
	if out, err := command(ctx, cache, "apt-get", "download", pkg); err != nil {
		return Prepared{}, fmt.Errorf("download %s: %w\n%s", pkg, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(cache, pkg+"_*.deb"))
	if len(debs) == 0 {
		return Prepared{}, fmt.Errorf("download %s: no .deb in %s", pkg, cache)
	}
	tmp := p.Root + ".tmp"
	_ = os.RemoveAll(tmp)
	if out, err := command(ctx, cache, "dpkg-deb", "-x", debs[len(debs)-1], tmp); err != nil {
		return Prepared{}, fmt.Errorf("unpack %s: %w\n%s", debs[0], err, out)
	}
	if out, err := command(ctx, cache, "depmod", "-b", tmp, version); err != nil {
		return Prepared{}, fmt.Errorf("depmod %s: %w\n%s", version, err, out)
	}
	_ = os.RemoveAll(p.Root)
	if err := os.Rename(tmp, p.Root); err != nil {
		return Prepared{}, fmt.Errorf("move %s into place: %w", version, err)
	}
	for _, d := range debs {
		_ = os.Remove(d)
	}
	return p, nil
}

// resolve turns a meta package into the kernel package it depends on.
func resolve(ctx context.Context, meta string) (string, error) {
	out, err := command(ctx, "", "apt-cache", "depends", meta)
	if err != nil {
		return "", fmt.Errorf("apt-cache depends %s: %w\n%s (run apt-get update first)", meta, err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") {
			return f[1], nil
		}
	}
	return "", errors.New("apt-cache depends " + meta + ": no linux-image dependency (run apt-get update first)")
}

func command(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

func commandBytes(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, stderr.String())
	}
	return out, nil
}
