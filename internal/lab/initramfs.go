package lab

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "embed"
)

//go:embed init.sh
var initScript []byte

// bootModules are loaded by the initramfs to reach the host's root over 9p.
var bootModules = []string{"virtio_pci", "9pnet_virtio", "9p"}

// Guest describes what the VM runs once it is in the host's root.
type Guest struct {
	Script string // absolute path of guest.sh on the host
	Plan   string // absolute path of the plan file guest.sh reads
	// Keep is a host dir under /tmp the guest must still see at its path
	// (a checkout under /tmp, with guest.sh and the packages' dirs), or "".
	Keep string
	// Lead marks the run's first kernel: the cases that need one kernel
	// of the lab, not each (nstest.OneLabKernel), run there.
	Lead bool
}

// initramfs builds the VM's initramfs for kernel p.
func initramfs(ctx context.Context, p Prepared, g Guest) ([]byte, error) {
	busybox, err := findBusybox()
	if err != nil {
		return nil, err
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return nil, fmt.Errorf("read busybox: %w", err)
	}
	mods, err := moduleOrder(p, bootModules)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w := &cpioWriter{w: &buf}
	for _, d := range []string{"bin", "proc", "sys", "dev", "host", "lib", "lib/mods"} {
		w.Dir(d)
	}
	w.File("bin/busybox", 0o755, bb)
	w.File("init", 0o755, initScript)
	lead := ""
	if g.Lead {
		lead = "1"
	}
	conf := fmt.Sprintf("KVER=%q\nKROOT=%q\nGUEST=%q\nPLAN=%q\nKEEP=%q\nLEAD=%q\n", p.Version, p.Root, g.Script, g.Plan, g.Keep, lead)
	w.File("lab.conf", 0o644, []byte(conf))
	var order []string
	for _, m := range mods {
		data, err := readModule(ctx, filepath.Join(p.ModDir(), m))
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(m), ".xz"), ".zst")
		w.File("lib/mods/"+name, 0o644, data)
		order = append(order, name)
	}
	w.File("lib/mods/order", 0o644, []byte(strings.Join(order, "\n")+"\n"))
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("write initramfs: %w", err)
	}
	return buf.Bytes(), nil
}

func findBusybox() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if out, err := command(context.Background(), "", "file", "-L", p); err == nil && strings.Contains(out, "statically linked") {
			return p, nil
		} else if _, err := os.Stat(p); err == nil && !strings.Contains(out, "dynamically") {
			return p, nil
		}
	}
	return "", fmt.Errorf("no static busybox: apt-get install busybox-static")
}

// readModule returns a module's bytes, decompressed.
func readModule(ctx context.Context, path string) ([]byte, error) {
	switch {
	case strings.HasSuffix(path, ".xz"):
		out, err := decompress(ctx, "xz", path)
		return out, err
	case strings.HasSuffix(path, ".zst"):
		return decompress(ctx, "zstd", path)
	}
	return os.ReadFile(path)
}

func decompress(ctx context.Context, tool, path string) ([]byte, error) {
	cmdOut, err := commandBytes(ctx, tool, "-dc", path)
	if err != nil {
		return nil, fmt.Errorf("%s -dc %s: %w", tool, path, err)
	}
	return cmdOut, nil
}

// moduleOrder returns the module files (relative to the module dir) that
// load names, dependencies first. Built-in modules are left out.
func moduleOrder(p Prepared, names []string) ([]string, error) {
	f, err := os.Open(filepath.Join(p.ModDir(), "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("read modules.dep: %w", err)
	}
	defer f.Close()
	deps := map[string][]string{}
	byName := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[mod] = strings.Fields(rest)
		byName[modName(mod)] = mod
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read modules.dep: %w", err)
	}
	builtin, _ := os.ReadFile(filepath.Join(p.ModDir(), "modules.builtin"))
	var out []string
	seen := map[string]bool{}
	var visit func(m string)
	visit = func(m string) {
		if seen[m] {
			return
		}
		seen[m] = true
		for _, d := range deps[m] {
			visit(d)
		}
		out = append(out, m)
	}
	for _, n := range names {
		m, ok := byName[n]
		if !ok {
			if bytes.Contains(builtin, []byte("/"+n+".ko")) {
				continue
			}
			return nil, fmt.Errorf("kernel %s has no module %s", p.Version, n)
		}
		visit(m)
	}
	return out, nil
}

// modName is a module's name from its path: kernel/fs/9p/9p.ko.xz -> 9p.
func modName(path string) string {
	b := filepath.Base(path)
	if i := strings.Index(b, ".ko"); i >= 0 {
		b = b[:i]
	}
	return strings.ReplaceAll(b, "-", "_")
}
