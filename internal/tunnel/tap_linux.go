package tunnel

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/nsthread"
)

// kernelDevices manages TAPs in one network namespace: ns for creating
// them (a tun device is born in the namespace of the thread that opens
// /dev/net/tun), nl for everything else.
type kernelDevices struct {
	alias string         // set on the TAPs made (Options.Alias or tapAlias)
	ns    netns.NsHandle // not open: the caller's namespace
	nl    *netlink.Handle
}

// newKernelDevices works in ns, or the caller's namespace when ns is not
// open. The caller keeps ownership of ns.
func newKernelDevices(ns netns.NsHandle, alias string) (devices, error) {
	if alias == "" {
		alias = tapAlias
	}
	d := &kernelDevices{ns: ns, alias: alias}
	var err error
	if ns.IsOpen() {
		d.nl, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	} else {
		d.nl, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	return d, nil
}

func (d *kernelDevices) inspect(name string) (tapInfo, error) {
	l, err := d.nl.LinkByName(name)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		return tapInfo{}, nil
	}
	if err != nil {
		return tapInfo{}, fmt.Errorf("find link %s: %w", name, err)
	}
	info := tapInfo{found: true, up: l.Attrs().Flags&net.FlagUp != 0}
	if t, ok := l.(*netlink.Tuntap); !ok || t.Mode != netlink.TUNTAP_MODE_TAP || !d.ours(t.Alias) {
		return info, nil
	}
	info.ours = true
	if info.busy, err = tapBusy(d.ns, name); err != nil {
		return info, fmt.Errorf("probe tap %s: %w", name, err)
	}
	return info, nil
}

// tapBusy reports whether a process has the TAP open. Netlink does not
// tell for a single-queue device (IFLA_TUN_NUM_QUEUES is reported only for
// multi-queue ones), but the kernel refuses a second attachment with
// EBUSY. When the attachment succeeds it is closed at once; the device is
// persistent and stays. Meanwhile an openvpn opening the TAP would get
// EBUSY itself, so it is only used on a TAP whose process is not being
// started: before our own start, or on a TAP not (yet) ours.
func tapBusy(ns netns.NsHandle, name string) (bool, error) {
	err := nsthread.In(ns, func() error {
		fd, err := openTap(name, unix.IFF_TAP|unix.IFF_NO_PI)
		if err == nil {
			unix.Close(fd)
		}
		return err
	})
	if errors.Is(err, unix.EBUSY) {
		return true, nil
	}
	return false, err
}

// openTap opens /dev/net/tun and attaches it to the tun device name with
// flags (TUNSETIFF), as openvpn does. It serves the busy probe only:
// createTap goes through netlink. Without IFF_TUN_EXCL it would create a
// missing device, which vanishes with the fd (no TUNSETPERSIST). The
// calling thread's namespace is the device's. O_CLOEXEC: a process forked
// meanwhile must not hold the device open.
func openTap(name string, flags uint16) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err == nil {
		ifr.SetUint16(flags)
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("TUNSETIFF: %w", err)
	}
	return fd, nil
}

// createTap creates name as a persistent TAP exclusively. LinkAdd opens
// /dev/net/tun on the calling thread, hence nsthread.In. Flags must be
// non-zero (zero means netlink's defaults, without IFF_NO_PI); Queues 0
// and NonPersist false make it set TUNSETPERSIST and close the fd.
func (d *kernelDevices) createTap(name string, up bool) error {
	tap := &netlink.Tuntap{
		LinkAttrs: netlink.LinkAttrs{Name: name},
		Mode:      netlink.TUNTAP_MODE_TAP,
		Flags:     netlink.TUNTAP_NO_PI | netlink.TUNTAP_TUN_EXCL,
	}
	err := nsthread.In(d.ns, func() error { return d.nl.LinkAdd(tap) })
	if err != nil {
		// IFF_TUN_EXCL fails with EBUSY on an existing name, but netlink
		// formats the errno with %v: ask for the name instead.
		if _, lerr := d.nl.LinkByName(name); lerr == nil {
			err = errkind.Conflict("interface %s exists", name)
		}
		return fmt.Errorf("create tap %s: %w", name, err)
	}
	l, err := d.nl.LinkByName(name)
	if err == nil {
		err = d.nl.LinkSetAlias(l, d.alias)
		if err == nil && up {
			err = d.nl.LinkSetUp(l)
		}
		if err != nil {
			_ = d.nl.LinkDel(l)
		}
	}
	if err != nil {
		return fmt.Errorf("create tap %s: %w", name, err)
	}
	return nil
}

func (d *kernelDevices) setUp(name string, up bool) error {
	l, err := d.nl.LinkByName(name)
	if err != nil {
		return fmt.Errorf("set %s up=%t: %w", name, up, err)
	}
	if up {
		err = d.nl.LinkSetUp(l)
	} else {
		err = d.nl.LinkSetDown(l)
	}
	if err != nil {
		return fmt.Errorf("set %s up=%t: %w", name, up, err)
	}
	return nil
}

// remove deletes name only if it is a TAP of ours.
func (d *kernelDevices) remove(name string) error {
	l, err := d.nl.LinkByName(name)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete tap %s: %w", name, err)
	}
	if t, ok := l.(*netlink.Tuntap); !ok || !d.ours(t.Alias) {
		return fmt.Errorf("delete tap %s: %w", name, errkind.Conflict("%s is not a TAP of ours any more", name))
	}
	if err := d.nl.LinkDel(l); err != nil {
		return fmt.Errorf("delete tap %s: %w", name, err)
	}
	return nil
}

func (d *kernelDevices) close() error {
	d.nl.Close()
	return nil
}

// ours reports whether a TAP's alias makes it ours: this daemon's, or the
// unmarked alias of a run without an owner mark.
func (d *kernelDevices) ours(alias string) bool { return alias == d.alias || alias == tapAlias }
