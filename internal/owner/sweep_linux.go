package owner

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Netlink is what marking and sweeping need of a netlink handle.
type Netlink interface {
	LinkList() ([]netlink.Link, error)
	LinkDel(link netlink.Link) error
	LinkSetAlias(link netlink.Link, name string) error
}

// Set marks link as ours.
func (m Mark) Set(nl Netlink, link netlink.Link) error {
	if err := nl.LinkSetAlias(link, string(m)); err != nil {
		return fmt.Errorf("mark %s as ours: %w", link.Attrs().Name, err)
	}
	return nil
}

// Sweep removes every interface that carries m but those keep spares
// (nil: none): what an earlier daemon of the same state dir left and this
// one does not use. It returns the names removed.
func Sweep(nl Netlink, m Mark, keep func(name string) bool, log *slog.Logger) ([]string, error) {
	links, err := nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var gone []string
	var errs []error
	for _, l := range links {
		if !m.Owns(l.Attrs().Alias) || keep != nil && keep(l.Attrs().Name) {
			continue
		}
		if err := nl.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) { // a veth's peer goes with it
			errs = append(errs, fmt.Errorf("remove %s, left by an earlier run: %w", l.Attrs().Name, err))
			continue
		}
		log.Warn("removed an interface an earlier run of this daemon left", "interface", l.Attrs().Name)
		gone = append(gone, l.Attrs().Name)
	}
	return gone, errors.Join(errs...)
}
