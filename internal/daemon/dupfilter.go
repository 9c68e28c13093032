package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/multilink/multilink/internal/dedup"
	"github.com/multilink/multilink/internal/tcattach"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// dupFilter is the hub's duplicate filter (selective redundancy: a
// gateway's copies are dropped at the hub's TAPs), loaded at its first
// use: a daemon that serves no hub never loads it. A host that cannot
// load it (no CAP_BPF, an old kernel) has the hub serve without it, the
// reason logged once.
type dupFilter struct {
	nl  *netlink.Handle
	log *slog.Logger

	mu     sync.Mutex
	f      *dedup.Filter
	failed error
}

func (d *dupFilter) Attach(ctx context.Context, dev string) error {
	d.mu.Lock()
	if d.f == nil && d.failed == nil {
		f, err := dedup.New(d.nl, netns.None(), dedup.Options{Attach: tcattach.Auto, Log: d.log})
		if err != nil {
			d.failed = fmt.Errorf("load the duplicate filter: %w", err)
			d.log.Warn("no duplicate filter for the hub's links: a gateway's copies reach this host twice", "err", err)
		}
		d.f = f
	}
	f, failed := d.f, d.failed
	d.mu.Unlock()
	if failed != nil {
		return failed
	}
	return f.Attach(ctx, dev)
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
