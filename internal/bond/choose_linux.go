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

// Create makes the bond with the driver s.Driver (or the default) names.
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
