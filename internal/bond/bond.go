package bond

import (
	"context"
	"net/netip"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/owner"
)

// Spec is a bond to create.
type Spec struct {
	Name    string       // bond interface name, e.g. bond0
	Address netip.Prefix // the bond's address, e.g. 10.8.0.253/24
	Slaves  []string     // slave interface names in priority order (TAPs); they exist already
	Params  api.BondParams
	Driver  string     // api.DriverAuto (""), DriverKernel or DriverEBPF; for a Chooser
	Mark    owner.Mark // set on the bond's interfaces right after they are made ("": none)
}

// Driver is a bond implementation. The rest of multilink talks to bonds
// only through it, so the kernel's bonding driver and the eBPF data path
// are interchangeable.
type Driver interface {
	// Create makes the bond, sets its parameters and address, enslaves the
	// slaves in order and brings it up. On error it removes what it made.
	Create(ctx context.Context, s Spec) error
	// Delete releases the slaves (they stay, down) and removes the bond.
	Delete(ctx context.Context, name string) error
	// Info reads the bond's live state; fault.KindNotFound if absent.
	Info(ctx context.Context, name string) (api.BondInfo, error)
	// Set applies the given (non-nil) parameters, validated against the
	// bond's slaves and the parameters already in force (with what the
	// implementation changes by itself, such as on a mode change). It is
	// the one validator of a change: an invalid p is fault.KindInvalid
	// and changes nothing.
	Set(ctx context.Context, name string, p api.BondParams) error
}
