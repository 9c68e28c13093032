package bond

import (
	"errors"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/errkind"
)

// ErrNotSupported matches errors for what this kernel lacks: the bonding
// driver, or a bond option newer than the kernel.
var ErrNotSupported = errors.New("not supported by this kernel")

// notSupported reports an option the kernel lacks, for field; since names
// the first Linux version that has it.
func notSupported(field, since string) error {
	return &errkind.Error{Kind: errkind.KindInvalid, Field: field, Msg: "needs Linux " + since + " or later", Err: ErrNotSupported}
}

// kernelErr classifies an error the kernel returned for a change of field
// (may be ""): a value or combination it refuses is errkind.KindInvalid, a
// name in use errkind.KindConflict, a missing device errkind.KindNotFound.
// Everything else stays as it is.
func kernelErr(field string, err error) error {
	if err == nil || errkind.KindOf(err) != errkind.KindInternal {
		return err
	}
	e := &errkind.Error{Field: field, Err: err}
	switch {
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ERANGE), errors.Is(err, unix.EACCES), errors.Is(err, unix.EOPNOTSUPP):
		// EACCES: the option does not apply in the bond's mode.
		e.Kind, e.Msg = errkind.KindInvalid, "the kernel refused it"
	case errors.Is(err, unix.EEXIST):
		e.Kind, e.Msg = errkind.KindConflict, "exists already"
	case errors.Is(err, unix.ENODEV):
		e.Kind, e.Msg = errkind.KindNotFound, "no such device"
	default:
		return err
	}
	return e
}

// isNotFound reports whether err says a link does not exist.
func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}
