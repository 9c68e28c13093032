package topology

// The world's addresses: documentation prefixes (/24) for the two
// underlays, the spec's 10.8.0.0/24 inside the tunnels, and the port the
// daemons' APIs listen on.
const (
	HubU1 = "192.0.2.1" // the hub's end of u1, the primary underlay
	GwU1  = "192.0.2.2" // the gateway's end of u1
	HubU2 = "198.51.100.1"
	GwU2  = "198.51.100.2"

	// UnderlayBits is the underlays' prefix length.
	UnderlayBits = 24

	HubTunnel = "10.8.0.254" // the hub bridge's address (bridge_ip)
	GwTunnel  = "10.8.0.253" // the gateway bond's address (ip_address)

	APIPort = "3333"
)

// Underlay is one of the two links between the gateway and the hub.
type Underlay struct {
	Dev string // the interface at both ends: u1 or u2
	Hub string // the hub end's address
	Gw  string // the gateway end's address
}

// Underlays returns the two underlays, the primary (u1) first.
func Underlays() [2]Underlay {
	return [2]Underlay{
		{Dev: "u1", Hub: HubU1, Gw: GwU1},
		{Dev: "u2", Hub: HubU2, Gw: GwU2},
	}
}
