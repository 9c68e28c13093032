package bond

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Netlink is what the kernel driver needs of a netlink handle;
// *netlink.Handle has it.
type Netlink interface {
	LinkAdd(link netlink.Link) error
	LinkDel(link netlink.Link) error
	LinkModify(link netlink.Link) error
	LinkByName(name string) (netlink.Link, error)
	LinkByIndex(index int) (netlink.Link, error)
	LinkList() ([]netlink.Link, error)
	LinkSetMaster(link, master netlink.Link) error
	LinkSetNoMaster(link netlink.Link) error
	LinkSetUp(link netlink.Link) error
	LinkSetDown(link netlink.Link) error
	AddrReplace(link netlink.Link, addr *netlink.Addr) error
	LinkSetAlias(link netlink.Link, name string) error
}

// Attr is one attribute inside a bond's IFLA_INFO_DATA.
type Attr struct {
	Type  uint16
	Value []byte
}

// Raw carries the bond attributes netlink.Bond has no field for
// (IFLA_BOND_MISSED_MAX, IFLA_BOND_PEER_NOTIF_DELAY). *Handle has it.
// Both requests name the bond; neither ever creates a link.
type Raw interface {
	// BondData reads a bond's ifindex and IFLA_INFO_DATA attributes
	// (one RTM_GETLINK).
	BondData(name string) (index int, data []Attr, err error)
	// SetBondData changes a bond with one RTM_NEWLINK whose IFLA_INFO_DATA
	// holds exactly data.
	SetBondData(name string, data []Attr) error
}

// The raw attributes, checked against linux/if_link.h (enum IFLA_BOND_*).
const (
	attrPeerNotifDelay = unix.IFLA_BOND_PEER_NOTIF_DELAY // 28, u32 ms, Linux 5.3
	attrMissedMax      = unix.IFLA_BOND_MISSED_MAX       // 30, u8, Linux 5.19
)

// dumpAttempts bounds the retries of a netlink dump the kernel interrupted
// (NLM_F_DUMP_INTR: the link table changed while it was read).
const dumpAttempts = 5

// retryDump calls f until its result is not ErrDumpInterrupted, at most
// dumpAttempts times (containernetworking/plugins' netlinksafe does the same).
func retryDump[T any](f func() (T, error)) (T, error) {
	var v T
	var err error
	for range dumpAttempts {
		v, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, fmt.Errorf("netlink dump interrupted %d times: %w", dumpAttempts, err)
}
