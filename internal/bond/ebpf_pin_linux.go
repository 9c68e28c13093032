package bond

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/multilink/multilink/internal/bpf"
	"github.com/multilink/multilink/internal/bpfpin"
	"github.com/multilink/multilink/internal/errkind"
)

// mapDir holds the pinned maps, linkDir the pinned TCX links ("": no pins).
func (e *EBPF) mapDir() string {
	if e.pinDir == "" {
		return ""
	}
	return filepath.Join(e.pinDir, "maps")
}

func (e *EBPF) linkDir() string {
	if e.pinDir == "" {
		return ""
	}
	return filepath.Join(e.pinDir, "links")
}

// load loads the programs, with the maps an earlier run pinned when their
// layout is the same; maps of another layout (a new build that changed
// them) are unpinned and made afresh: the bonds then get their state back
// from their specs, not the active link they had.
func (e *EBPF) load() error {
	if e.obj != nil {
		return nil
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("remove memlock limit: %w", err)
	}
	o, err := e.loadPinned()
	if errors.Is(err, ebpf.ErrMapIncompatible) {
		e.log.Warn("the pinned eBPF bond maps have another layout: making them afresh", "dir", e.mapDir(), "err", err)
		if err := bpfpin.RemoveAll(e.mapDir()); err != nil {
			return err
		}
		o, err = e.loadPinned()
	}
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return fmt.Errorf("load bond programs: %w (verifier log:\n%+v)", err, ve)
		}
		if e.pinDir != "" && !errors.Is(err, ebpf.ErrNotSupported) {
			return fmt.Errorf("load bond programs with maps pinned in %s: %w", e.mapDir(), err)
		}
		return errkind.Unsupported(err, "the eBPF bond cannot load its programs (needs CAP_BPF and CAP_NET_ADMIN)")
	}
	e.obj = o
	return nil
}

func (e *EBPF) loadPinned() (*bpf.BondObjects, error) {
	spec, err := bpf.LoadBond()
	if err != nil {
		return nil, err
	}
	var opts *ebpf.CollectionOptions
	if dir := e.mapDir(); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create pin directory: %w", err)
		}
		for _, m := range spec.Maps {
			m.Pinning = ebpf.PinByName
		}
		opts = &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: dir}}
	}
	var o bpf.BondObjects
	if err := spec.LoadAndAssign(&o, opts); err != nil {
		return nil, err
	}
	return &o, nil
}

// unpinAll removes the pins once no bond is left: the maps, and links of
// bonds an earlier run left that nothing took over. The loaded objects are
// closed, so a later Create pins afresh.
func (e *EBPF) unpinAll() error {
	if e.pinDir == "" {
		return nil
	}
	if e.obj != nil {
		err := e.obj.Close()
		e.obj = nil
		if err != nil {
			return fmt.Errorf("close bond programs: %w", err)
		}
	}
	return bpfpin.RemoveAll(e.pinDir)
}

// Release forgets every bond and leaves them working: pinned maps and
// links, legacy filters and devices stay; only this process's file
// descriptors close. With no pin dir, TCX links end here (nothing else
// holds them). The driver is empty afterwards; a later Create takes the
// bonds over again.
func (e *EBPF) Release(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for name, b := range e.bonds {
		for _, a := range b.atts {
			if err := a.Release(); err != nil {
				errs = append(errs, fmt.Errorf("release bond %s: %w", name, err))
			}
		}
	}
	clear(e.bonds)
	if e.obj != nil {
		if err := e.obj.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close bond programs: %w", err))
		}
		e.obj = nil
	}
	return errors.Join(errs...)
}
