package bond

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Handle is a netlink handle plus a route socket in the same network
// namespace for the raw bond requests: both a Netlink and a Raw. Kernel
// drivers for a namespace other than the process's need one.
type Handle struct {
	*netlink.Handle
	raw *rawSocket
}

var (
	_ Netlink = (*netlink.Handle)(nil)
	_ Netlink = (*Handle)(nil)
	_ Raw     = (*Handle)(nil)
)

// NewHandleAt opens a Handle in ns, or in the calling thread's namespace
// when ns is not open (netns.None()). The netlink handle speaks
// NETLINK_ROUTE only, so it works on kernels without xfrm.
func NewHandleAt(ns netns.NsHandle) (*Handle, error) {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink handle: %w", err)
	}
	raw, err := newRawSocket(ns)
	if err != nil {
		h.Close()
		return nil, err
	}
	return &Handle{Handle: h, raw: raw}, nil
}

// Close closes both sockets.
func (h *Handle) Close() {
	h.Handle.Close()
	h.raw.Close()
}

// BondData implements Raw.
func (h *Handle) BondData(name string) (int, []Attr, error) { return h.raw.BondData(name) }

// SetBondData implements Raw.
func (h *Handle) SetBondData(name string, data []Attr) error { return h.raw.SetBondData(name, data) }

// rawTimeout bounds one raw request.
const rawTimeout = 10 * time.Second

// rawSocket is a NETLINK_ROUTE socket for requests netlink has no call for.
type rawSocket struct {
	sh *nl.SocketHandle
}

// newRawSocket opens the socket in ns (the calling thread's namespace when
// ns is not open).
func newRawSocket(ns netns.NsHandle) (*rawSocket, error) {
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open raw netlink socket: %w", err)
	}
	tv := unix.NsecToTimeval(rawTimeout.Nanoseconds())
	if err := errors.Join(s.SetSendTimeout(&tv), s.SetReceiveTimeout(&tv)); err != nil {
		s.Close()
		return nil, fmt.Errorf("set raw netlink socket timeouts: %w", err)
	}
	_ = s.SetExtAck(true) // the kernel's reason in errors, where it gives one
	return &rawSocket{sh: &nl.SocketHandle{Socket: s}}, nil
}

// Close closes the socket.
func (r *rawSocket) Close() { r.sh.Close() }

func (r *rawSocket) request(typ, flags int, name string) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(typ, flags)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: r.sh}
	req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC)) // ifi_index 0: the kernel looks the name up
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	return req
}

// SetBondData sends RTM_NEWLINK without NLM_F_CREATE: it changes the named
// bond and fails with ENODEV if there is none.
func (r *rawSocket) SetBondData(name string, data []Attr) error {
	req := r.request(unix.RTM_NEWLINK, unix.NLM_F_ACK, name)
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("bond"))
	d := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	for _, a := range data {
		d.AddRtAttr(int(a.Type), a.Value)
	}
	req.AddData(info)
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil {
		return fmt.Errorf("raw RTM_NEWLINK %s: %w", name, err)
	}
	return nil
}

// BondData sends RTM_GETLINK for the name and returns the link's ifindex
// and its IFLA_LINKINFO/IFLA_INFO_DATA attributes.
func (r *rawSocket) BondData(name string) (int, []Attr, error) {
	index, kind, data, err := r.linkInfo(name)
	if err != nil {
		return 0, nil, err
	}
	if kind != "bond" {
		return 0, nil, fmt.Errorf("raw RTM_GETLINK %s: a %q link, not a bond", name, kind)
	}
	return index, data, nil
}

// linkInfo reads the named link's ifindex, kind and IFLA_INFO_DATA.
func (r *rawSocket) linkInfo(name string) (int, string, []Attr, error) {
	req := r.request(unix.RTM_GETLINK, unix.NLM_F_ACK, name)
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
	if err != nil {
		return 0, "", nil, fmt.Errorf("raw RTM_GETLINK %s: %w", name, err)
	}
	if len(msgs) != 1 {
		return 0, "", nil, fmt.Errorf("raw RTM_GETLINK %s: %d answers, want 1", name, len(msgs))
	}
	index, kind, data, err := parseLinkInfo(msgs[0])
	if err != nil {
		return 0, "", nil, fmt.Errorf("raw RTM_GETLINK %s: %w", name, err)
	}
	return index, kind, data, nil
}

// parseLinkInfo reads an RTM_NEWLINK message body: ifindex, IFLA_INFO_KIND
// and the attributes inside IFLA_INFO_DATA.
func parseLinkInfo(m []byte) (index int, kind string, data []Attr, err error) {
	if len(m) < unix.SizeofIfInfomsg {
		return 0, "", nil, fmt.Errorf("message of %d bytes is too short", len(m))
	}
	ifi := nl.DeserializeIfInfomsg(m)
	attrs, err := nl.ParseRouteAttr(m[ifi.Len():])
	if err != nil {
		return 0, "", nil, fmt.Errorf("parse link attributes: %w", err)
	}
	for _, a := range attrs {
		if a.Attr.Type&nl.NLA_TYPE_MASK != unix.IFLA_LINKINFO {
			continue
		}
		info, err := nl.ParseRouteAttr(a.Value)
		if err != nil {
			return 0, "", nil, fmt.Errorf("parse IFLA_LINKINFO: %w", err)
		}
		for _, i := range info {
			switch i.Attr.Type & nl.NLA_TYPE_MASK {
			case nl.IFLA_INFO_KIND:
				kind = strings.TrimRight(string(i.Value), "\x00")
			case nl.IFLA_INFO_DATA:
				nested, err := nl.ParseRouteAttr(i.Value)
				if err != nil {
					return 0, "", nil, fmt.Errorf("parse IFLA_INFO_DATA: %w", err)
				}
				for _, n := range nested {
					data = append(data, Attr{Type: n.Attr.Type & nl.NLA_TYPE_MASK, Value: n.Value})
				}
			}
		}
	}
	return int(ifi.Index), kind, data, nil
}
