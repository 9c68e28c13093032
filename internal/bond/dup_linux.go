package bond

import (
	"context"
	"fmt"
	"time"

	"github.com/cilium/ebpf"

	"github.com/multilink/multilink/internal/bpf"
	"github.com/multilink/multilink/internal/errkind"
)

// Duplicator is a Driver that can send a bond's frames over a second
// link as well (selective redundancy, docs/redundancy.md). EBPF is one;
// Chooser passes the call on, and refuses it for a kernel bond.
type Duplicator interface {
	// SetDuplicate makes the bond send a copy of every outgoing frame on
	// link, a member other than the active one, and take the frames that
	// arrive on it, until it is called again with "" (or another link),
	// or until the bond switches to link. The link that stops getting
	// copies is still taken from for grace (as a switch's old link): the
	// far end may have learnt the bond there from a copy, and its frames
	// in flight come that way until it learns the bond back.
	SetDuplicate(ctx context.Context, bond, link string, grace time.Duration) error
	// Duplicate names the link the bond copies its frames to now (""
	// none), as an earlier daemon may have left it.
	Duplicate(ctx context.Context, bond string) (string, error)
}

var (
	_ Duplicator = (*EBPF)(nil)
	_ Duplicator = (*Chooser)(nil)
)

// SetDuplicate sets the bond's dup member: bond_out then clones every
// frame to the active member and sends it on link too, and bond_in takes
// link's frames. "" stops. The active link stays. The member that stops
// getting copies becomes the bond's previous link for grace (bond_in
// takes its frames until then), unless a switch's grace is still running:
// that one stays. link may be the active member: nothing is copied while
// it is. A Switch to link clears it (the window is over: the engine
// decided); a Switch to another member keeps it.
func (e *EBPF) SetDuplicate(ctx context.Context, bond, link string, grace time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.bonds[bond]
	if !ok {
		return errkind.NotFound("no eBPF bond %s", bond)
	}
	var idx uint32
	if link != "" {
		i, ok := b.members[link]
		if !ok {
			return errkind.Invalid("link", "%s is not a slave of %s", link, bond)
		}
		idx = uint32(i)
	}
	key := uint32(b.peer.Attrs().Index)
	var st bpf.BondBondState
	if err := e.obj.Bonds.Lookup(key, &st); err != nil {
		return fmt.Errorf("read bond %s: %w", bond, err)
	}
	if st.Dup == idx {
		return nil
	}
	if old := st.Dup; old != 0 && old != st.Active && grace > 0 {
		now, err := monotonicNs()
		if err != nil {
			return err
		}
		if st.Prev == 0 || st.PrevUntilNs <= now {
			st.Prev, st.PrevUntilNs = old, now+uint64(grace)
		}
	}
	st.Dup = idx
	// e.mu serialises every writer of the state (switchTo too), so this
	// read-modify-write loses nothing.
	if err := e.obj.Bonds.Update(key, st, ebpf.UpdateExist); err != nil {
		return fmt.Errorf("set the duplicate link of bond %s to %q: %w", bond, link, err)
	}
	e.log.Debug("bond duplicate link", "bond", bond, "link", link)
	return nil
}

// Duplicate names the bond's dup member ("": none).
func (e *EBPF) Duplicate(ctx context.Context, bond string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.bonds[bond]
	if !ok {
		return "", errkind.NotFound("no eBPF bond %s", bond)
	}
	var st bpf.BondBondState
	if err := e.obj.Bonds.Lookup(uint32(b.peer.Attrs().Index), &st); err != nil {
		return "", fmt.Errorf("read bond %s: %w", bond, err)
	}
	for n, idx := range b.members {
		if st.Dup != 0 && uint32(idx) == st.Dup {
			return n, nil
		}
	}
	return "", nil
}

// Duplicate asks the eBPF bond; a kernel bond copies nothing.
func (c *Chooser) Duplicate(ctx context.Context, bond string) (string, error) {
	d, err := c.driverOf(bond)
	if err != nil {
		return "", err
	}
	if s, ok := d.(Duplicator); ok {
		return s.Duplicate(ctx, bond)
	}
	return "", nil
}

// SetDuplicate passes the call to the eBPF bond; a kernel bond has no
// such thing (errkind.KindUnsupported matching ErrNotSupported).
func (c *Chooser) SetDuplicate(ctx context.Context, bond, link string, grace time.Duration) error {
	d, err := c.driverOf(bond)
	if err != nil {
		return err
	}
	if s, ok := d.(Duplicator); ok {
		return s.SetDuplicate(ctx, bond, link, grace)
	}
	return errkind.Unsupported(ErrNotSupported, "bond %s: only the eBPF bond can duplicate frames", bond)
}
