package tcattach

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// PinPath is where Attach pins the TCX link of a program named name (the
// Options' Name) on ifindex in one direction. The ifindex is in the name: a
// device made again under the same name has another index, and the link
// of the old one is defunct. bpffs refuses dots in names (they are the
// kernel's own files'), hence the dashes.
func PinPath(dir, name string, ifindex int, ingress bool) string {
	if name == "" {
		name = "tcx"
	}
	dirn := "egress"
	if ingress {
		dirn = "ingress"
	}
	return filepath.Join(dir, fmt.Sprintf("%s-%d-%s", name, ifindex, dirn))
}

func attachType(ingress bool) ebpf.AttachType {
	if ingress {
		return ebpf.AttachTCXIngress
	}
	return ebpf.AttachTCXEgress
}

func attachTCX(ifindex int, progs []Program, o Options) (*Attachment, error) {
	a := &Attachment{mode: TCX, index: ifindex}
	var adopted []bool
	fail := func(err error) (*Attachment, error) {
		// Undo what this call attached; leave what it took over pinned.
		for i, l := range a.links {
			if adopted[i] {
				_ = l.Close()
				continue
			}
			if a.pins[i] != "" {
				_ = l.Unpin()
			}
			_ = l.Close()
		}
		return nil, err
	}
	for _, p := range progs {
		pin := ""
		if o.PinDir != "" {
			pin = PinPath(o.PinDir, o.Name, ifindex, p.Ingress)
			l, err := takeOver(pin, ifindex, p)
			if err != nil {
				return fail(err)
			}
			if l != nil {
				a.links, a.pins, adopted = append(a.links, l), append(a.pins, pin), append(adopted, true)
				continue
			}
		}
		l, err := attachOne(ifindex, p, o)
		if err != nil {
			return fail(err)
		}
		if pin != "" {
			if err := pinLink(l, pin); err != nil {
				_ = l.Close()
				return fail(err)
			}
		}
		a.links, a.pins, adopted = append(a.links, l), append(a.pins, pin), append(adopted, false)
	}
	return a, nil
}

func attachOne(ifindex int, p Program, o Options) (link.Link, error) {
	at := attachType(p.Ingress)
	var err error
	// The program to go before may leave between the look and the attach:
	// look again, a bounded number of times.
	for range 3 {
		var anchor link.Anchor
		if anchor, err = anchorOf(ifindex, at, o); err != nil {
			return nil, err
		}
		var l link.Link
		l, err = link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: p.Prog, Attach: at, Anchor: anchor})
		if err == nil {
			return l, nil
		}
		if o.First || o.Before == "" || !errors.Is(err, unix.ENOENT) {
			break
		}
	}
	return nil, fmt.Errorf("attach tcx %s to ifindex %d: %w", at, ifindex, err)
}

// anchorOf is where o puts a program in the chain of at on ifindex.
func anchorOf(ifindex int, at ebpf.AttachType, o Options) (link.Anchor, error) {
	if o.First {
		return link.Head(), nil
	}
	if o.Before == "" {
		return link.Tail(), nil
	}
	r, err := link.QueryPrograms(link.QueryOptions{Target: ifindex, Attach: at})
	if errors.Is(err, unix.EINVAL) {
		// A kernel before TCX (6.6) knows no such attach type: Auto
		// falls back to legacy filters.
		return nil, fmt.Errorf("list the tcx %s programs of ifindex %d: %w (%w)", at, ifindex, err, ebpf.ErrNotSupported)
	}
	if err != nil {
		return nil, fmt.Errorf("list the tcx %s programs of ifindex %d: %w", at, ifindex, err)
	}
	for _, ap := range r.Programs {
		prog, err := ebpf.NewProgramFromID(ap.ID)
		if err != nil {
			continue // detached meanwhile
		}
		info, err := prog.Info()
		prog.Close()
		if err == nil && info.Name == o.Before {
			return link.BeforeProgramByID(ap.ID), nil
		}
	}
	return link.Tail(), nil
}

func pinLink(l link.Link, pin string) error {
	if err := os.MkdirAll(filepath.Dir(pin), 0o700); err != nil {
		return fmt.Errorf("create pin directory: %w", err)
	}
	if err := l.Pin(pin); err != nil {
		return fmt.Errorf("pin tcx link at %s: %w", pin, err)
	}
	return nil
}

// takeOver opens the link pinned at pin. A live link on ifindex in p's
// direction is kept, its program swapped for p's when they differ (one
// atomic update: every frame meets one program or the other); a defunct
// one (its device is gone) is unpinned. nil, nil: nothing to take over.
func takeOver(pin string, ifindex int, p Program) (link.Link, error) {
	l, err := link.LoadPinnedLink(pin, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open pinned link %s: %w", pin, err)
	}
	info, err := l.Info()
	if err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("read pinned link %s: %w", pin, err)
	}
	tcx := info.TCX()
	if tcx == nil || int(tcx.Ifindex) != ifindex || ebpf.AttachType(tcx.AttachType) != attachType(p.Ingress) {
		err := l.Unpin()
		_ = l.Close()
		if err != nil {
			return nil, fmt.Errorf("unpin defunct link %s: %w", pin, err)
		}
		return nil, nil
	}
	if id := progID(p.Prog); id == 0 || info.Program != id {
		if err := l.Update(p.Prog); err != nil {
			_ = l.Close()
			return nil, fmt.Errorf("update the program of pinned link %s: %w", pin, err)
		}
	}
	return l, nil
}

// dropPinnedTCX detaches the pinned TCX links an earlier run in TCX mode
// left for progs on ifindex (a change to legacy mode), once the legacy
// filters are there.
func dropPinnedTCX(ifindex int, progs []Program, o Options) error {
	if o.PinDir == "" {
		return nil
	}
	var errs []error
	for _, p := range progs {
		pin := PinPath(o.PinDir, o.Name, ifindex, p.Ingress)
		l, err := link.LoadPinnedLink(pin, nil)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("open pinned link %s: %w", pin, err))
			continue
		}
		if err := l.Unpin(); err != nil {
			errs = append(errs, fmt.Errorf("unpin %s: %w", pin, err))
		}
		_ = l.Close()
	}
	return errors.Join(errs...)
}

// PruneDefunct unpins the links under dir (not below) whose device is gone.
// It returns how many it removed.
func PruneDefunct(dir string) (int, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list pins in %s: %w", dir, err)
	}
	n := 0
	var errs []error
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		pin := filepath.Join(dir, e.Name())
		l, err := link.LoadPinnedLink(pin, nil)
		if err != nil {
			continue // not a link
		}
		info, err := l.Info()
		if err == nil && info.TCX() != nil && info.TCX().Ifindex == 0 {
			if err := l.Unpin(); err != nil {
				errs = append(errs, fmt.Errorf("unpin defunct link %s: %w", pin, err))
			} else {
				n++
			}
		}
		_ = l.Close()
	}
	return n, errors.Join(errs...)
}

// IngressChain names the programs on ifindex's TCX ingress, in the order
// they run (in the caller's network namespace).
func IngressChain(ifindex int) ([]string, error) {
	r, err := link.QueryPrograms(link.QueryOptions{Target: ifindex, Attach: ebpf.AttachTCXIngress})
	if err != nil {
		return nil, fmt.Errorf("query the TCX ingress of %d: %w", ifindex, err)
	}
	var names []string
	for _, ap := range r.Programs {
		p, err := ebpf.NewProgramFromID(ap.ID)
		if err != nil {
			return nil, fmt.Errorf("open program %d: %w", ap.ID, err)
		}
		info, err := p.Info()
		p.Close()
		if err != nil {
			return nil, fmt.Errorf("read program %d: %w", ap.ID, err)
		}
		names = append(names, info.Name)
	}
	return names, nil
}
