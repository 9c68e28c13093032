package bond

import (
	"context"
	"errors"
	"sync"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// Chooser is the Driver that picks, for each bond it creates, the kernel's
// bonding driver or the eBPF data path, and sends every later call for that
// bond to the one it picked. With DriverAuto it uses the kernel's bonding
// driver where the kernel has it and the eBPF path where it does not.
type Chooser struct {
	kernel, ebpf Driver
	def          string // default for a Spec that names none

	mu    sync.Mutex
	owner map[string]Driver
}

var _ Driver = (*Chooser)(nil)

// NewChooser chooses between kernel and ebpf (either may be nil: not
// available), by def unless a Spec says otherwise.
func NewChooser(kernel, ebpf Driver, def string) (*Chooser, error) {
	if err := api.CheckDriver("bond_driver", def); err != nil {
		return nil, err
	}
	return &Chooser{kernel: kernel, ebpf: ebpf, def: def, owner: map[string]Driver{}}, nil
}

// Adopter is a Driver that takes over, in Create, a bond of its kind that
// an earlier run left (Kernel and EBPF are). The Chooser routes a Create
// to the driver whose kind of bond is there.
type Adopter interface {
	// Left reports whether a bond of ours of this driver's kind is there
	// for s (named s.Name, marked s.Mark).
	Left(ctx context.Context, s Spec) bool
	// Discard removes such a bond.
	Discard(ctx context.Context, s Spec) error
}

// Releaser is a Driver that can forget its bonds and leave them working.
type Releaser interface {
	Release(ctx context.Context) error
}

var (
	_ Adopter  = (*Kernel)(nil)
	_ Adopter  = (*EBPF)(nil)
	_ Releaser = (*Kernel)(nil)
	_ Releaser = (*EBPF)(nil)
	_ Releaser = (*Chooser)(nil)
)

// Create makes the bond with the driver s.Driver (or the default) names.
// A bond of ours an earlier run left under s.Name is taken over by the
// driver of its kind when s.Driver allows that kind (automatic, or the
// same); when s.Driver asks for the other kind, that bond is removed
// first and the asked driver makes a new one.
func (c *Chooser) Create(ctx context.Context, s Spec) error {
	mode := s.Driver
	if mode == "" {
		mode = c.def
	}
	if err := api.CheckDriver("driver", mode); err != nil {
		return err
	}
	var d Driver
	var err error
	for _, k := range []struct {
		d    Driver
		kind string
	}{{c.kernel, api.DriverKernel}, {c.ebpf, api.DriverEBPF}} {
		a, ok := k.d.(Adopter)
		if !ok || s.Mark == "" || !a.Left(ctx, s) {
			continue
		}
		if auto := mode != api.DriverKernel && mode != api.DriverEBPF; auto || mode == k.kind {
			if err := k.d.Create(ctx, s); err != nil {
				return err
			}
			c.mu.Lock()
			c.owner[s.Name] = k.d
			c.mu.Unlock()
			return nil
		}
		if err := a.Discard(ctx, s); err != nil {
			return err
		}
		break
	}
	switch mode {
	case api.DriverKernel:
		d, err = c.kernel, c.try(ctx, c.kernel, s, "kernel")
	case api.DriverEBPF:
		d, err = c.ebpf, c.try(ctx, c.ebpf, s, "ebpf")
	default:
		d, err = c.kernel, c.try(ctx, c.kernel, s, "kernel")
		if errors.Is(err, ErrNotSupported) || errkind.KindOf(err) == errkind.KindUnsupported {
			d, err = c.ebpf, c.try(ctx, c.ebpf, s, "ebpf")
		}
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.owner[s.Name] = d
	c.mu.Unlock()
	return nil
}

func (c *Chooser) try(ctx context.Context, d Driver, s Spec, name string) error {
	if d == nil {
		return errkind.Unsupported(ErrNotSupported, "the %s bond driver is not available on this host", name)
	}
	return d.Create(ctx, s)
}

func (c *Chooser) driverOf(name string) (Driver, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.owner[name]
	if !ok {
		return nil, errkind.NotFound("no bond %s of ours", name)
	}
	return d, nil
}

// Release forgets every bond and leaves them working: both drivers
// release theirs.
func (c *Chooser) Release(ctx context.Context) error {
	var errs []error
	for _, d := range []Driver{c.kernel, c.ebpf} {
		if r, ok := d.(Releaser); ok && d != nil {
			if err := r.Release(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	c.mu.Lock()
	clear(c.owner)
	c.mu.Unlock()
	return errors.Join(errs...)
}

// Delete removes a bond this Chooser created.
func (c *Chooser) Delete(ctx context.Context, name string) error {
	d, err := c.driverOf(name)
	if err != nil {
		return err
	}
	if err := d.Delete(ctx, name); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.owner, name)
	c.mu.Unlock()
	return nil
}

// Info reads a bond this Chooser created.
func (c *Chooser) Info(ctx context.Context, name string) (api.BondInfo, error) {
	d, err := c.driverOf(name)
	if err != nil {
		return api.BondInfo{}, err
	}
	return d.Info(ctx, name)
}

// Set changes a bond this Chooser created.
func (c *Chooser) Set(ctx context.Context, name string, p api.BondParams) error {
	d, err := c.driverOf(name)
	if err != nil {
		return err
	}
	return d.Set(ctx, name, p) // the driver names the bond in its errors
}
