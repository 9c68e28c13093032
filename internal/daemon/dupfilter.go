package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cilium/ebpf"

	"github.com/multilink/multilink/internal/dedup"
	"github.com/multilink/multilink/internal/tcattach"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// dupFilter is the hub's duplicate filter (selective redundancy: a
// gateway's copies are dropped at the hub's TAPs), loaded at its first
// use: a daemon that serves no hub never loads it. A host that cannot
// load it (no CAP_BPF, an old kernel) has the hub serve without it, the
// reason logged once. It attaches by TCX only (Linux 6.6): under legacy
// tc filters it loses frames across a hub restart (docs/redundancy.md),
// so a kernel without TCX serves without it (copies reach the host twice
// while a gateway duplicates), said once at info level.
type dupFilter struct {
	nl  *netlink.Handle
	log *slog.Logger

	mu     sync.Mutex
	f      *dedup.Filter
	failed error
	noTCX  bool
}

func (d *dupFilter) Attach(ctx context.Context, dev string) error {
	d.mu.Lock()
	if d.f == nil && d.failed == nil {
		f, err := dedup.New(d.nl, netns.None(), dedup.Options{Attach: tcattach.TCX, Log: d.log})
		if err != nil {
			d.failed = fmt.Errorf("load the duplicate filter: %w", err)
			d.log.Warn("no duplicate filter for the hub's links: a gateway's copies reach this host twice", "err", err)
		}
		d.f = f
	}
	f, failed, noTCX := d.f, d.failed, d.noTCX
	d.mu.Unlock()
	if failed != nil {
		return failed
	}
	if noTCX {
		return nil
	}
	err := f.Attach(ctx, dev)
	if errors.Is(err, ebpf.ErrNotSupported) {
		d.mu.Lock()
		d.noTCX = true
		d.mu.Unlock()
		d.log.Info("no duplicate filter on this kernel (it attaches by TCX, Linux 6.6): a gateway's copies reach this host twice while it duplicates", "link", dev, "err", err)
		return nil
	}
	return err
}

func (d *dupFilter) Detach(ctx context.Context, dev string) error {
	d.mu.Lock()
	f := d.f
	d.mu.Unlock()
	if f == nil {
		return nil
	}
	return f.Detach(ctx, dev)
}

// Close unloads the filter if it was loaded.
func (d *dupFilter) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	return d.f.Close()
}
