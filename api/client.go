package api

import (
	"encoding/json"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/multilink/multilink/internal/errkind"
)

// MaxSlaves bounds the links of one bond.
const MaxSlaves = 8

// Client is the body of POST /v1/client/start: a gateway bond over one
// OpenVPN TAP tunnel per hardware interface.
type Client struct {
	// ServerAPIURL is where the hub's API is (key and link ports come from it).
	ServerAPIURL string `json:"server_api_url"`
	// ServerToken authenticates to the hub's API; empty: the daemon's own token.
	ServerToken string `json:"server_token,omitempty"`
	// ServerBridge selects the hub bridge when the hub serves several.
	ServerBridge string `json:"server_bridge,omitempty"`
	// ServerAPIPin is the pin of the hub API's TLS key ("sha256//<base64>",
	// from `multilink fingerprint` on the hub): required with an https://
	// server_api_url, which is then trusted by that key alone.
	ServerAPIPin string `json:"server_api_pin,omitempty"`
	// Bond is the bond interface's name (the key of the spec's "bond" object).
	Bond string `json:"-"`
	// Address is the bond's address; /24 unless a prefix is given.
	Address netip.Prefix `json:"-"`
	// Slaves are the links in priority order; slave i carries TAP prefix+(i+1).
	Slaves []Slave `json:"-"`
	// Bonding holds the bond parameters, the spec's defaults filled in.
	Bonding BondParams `json:"-"`
	// TapPrefix names the TAPs: prefix1..prefixN.
	TapPrefix string `json:"-"`
	// Driver makes the bond: DriverAuto (""), DriverKernel or DriverEBPF.
	Driver string `json:"-"`
}

// Slave is one link of a bond: a hardware interface and the hub address
// reached through it.
type Slave struct {
	HWInt    string     `json:"hw_int"`
	IPServer netip.Addr `json:"ip_server"`
	Netmask  int        `json:"netmask"`          // prefix length of ip_server's network
	Gateway  netip.Addr `json:"gateway,omitzero"` // next hop when ip_server is not on-link
}

// UnmarshalJSON decodes the spec's body: {"server_api_url": ..., "bond":
// {"<name>": {"ip_address", "slaves", "bonding"}}}.
func (c *Client) UnmarshalJSON(data []byte) error {
	var out Client
	var bondRaw json.RawMessage
	fields := map[string]field{
		"server_api_url": func(raw json.RawMessage) (err error) { out.ServerAPIURL, err = decodeString(raw); return },
		"server_token":   func(raw json.RawMessage) (err error) { out.ServerToken, err = decodeString(raw); return },
		"server_bridge":  func(raw json.RawMessage) (err error) { out.ServerBridge, err = decodeString(raw); return },
		"server_api_pin": func(raw json.RawMessage) (err error) { out.ServerAPIPin, err = decodePin(raw); return },
		"bond":           func(raw json.RawMessage) error { bondRaw = raw; return nil },
	}
	if err := decodeObject(data, "", fields, nil); err != nil {
		return err
	}
	if bondRaw == nil {
		return errkind.Invalid("bond", `is required: {"bond": {"bond0": {"ip_address": ..., "slaves": [...], "bonding": {...}}}}`)
	}
	bonds, err := decodeMembers(bondRaw, "bond")
	if err != nil {
		if errkind.FieldOf(err) != "bond" {
			return err // a bond named twice
		}
		return errkind.Invalid("bond", `must be an object keyed by the bond's name, e.g. {"bond0": {...}}`)
	}
	if len(bonds) != 1 {
		names := make([]string, 0, len(bonds))
		for k := range bonds {
			names = append(names, k)
		}
		sort.Strings(names)
		return errkind.Invalid("bond", "must name exactly one bond, got %d (%s); start each bond with its own request", len(bonds), quoteAll(names))
	}
	for name, raw := range bonds {
		if err := CheckIfName("bond", name); err != nil {
			return err
		}
		out.Bond = name
		if err := out.decodeBond(raw); err != nil {
			return prefix(join("bond", name), err)
		}
	}
	if err := out.Check(); err != nil {
		return err
	}
	*c = out
	return nil
}

func (c *Client) decodeBond(data []byte) error {
	var ip string
	var slavesRaw json.RawMessage
	var bonding BondParams
	fields := map[string]field{
		"ip_address": func(raw json.RawMessage) (err error) { ip, err = decodeString(raw); return },
		"slaves":     func(raw json.RawMessage) error { slavesRaw = raw; return nil },
		"bonding":    func(raw json.RawMessage) error { return bonding.UnmarshalJSON(raw) },
		"tap_prefix": func(raw json.RawMessage) (err error) { c.TapPrefix, err = decodeString(raw); return },
		"driver":     func(raw json.RawMessage) (err error) { c.Driver, err = decodeString(raw); return },
	}
	if err := decodeObject(data, "", fields, nil); err != nil {
		return err
	}
	if ip == "" {
		return errkind.Invalid("ip_address", "is required: the bond's IPv4 address, e.g. 10.8.0.253")
	}
	p, err := parseIPv4("ip_address", ip, 24)
	if err != nil {
		return err
	}
	c.Address = p
	if slavesRaw == nil {
		return errkind.Invalid("slaves", "is required: an array of {hw_int, ip_server, netmask}")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(slavesRaw, &items); err != nil || items == nil {
		return errkind.Invalid("slaves", "must be an array of {hw_int, ip_server, netmask}")
	}
	if len(items) < 1 || len(items) > MaxSlaves {
		return errkind.Invalid("slaves", "needs 1..%d entries, got %d", MaxSlaves, len(items))
	}
	for i, raw := range items {
		s, err := decodeSlave(raw)
		if err != nil {
			return prefix(join("slaves", index(i)), err)
		}
		c.Slaves = append(c.Slaves, s)
	}
	if c.TapPrefix == "" {
		c.TapPrefix = DefaultTapPrefix
	}
	c.Bonding = startDefaults(bonding, c.TapPrefix).Merge(bonding)
	return nil
}

func decodeSlave(data []byte) (Slave, error) {
	var s Slave
	var ipServer, mask, gw string
	fields := map[string]field{
		"hw_int":    func(raw json.RawMessage) (err error) { s.HWInt, err = decodeString(raw); return },
		"ip_server": func(raw json.RawMessage) (err error) { ipServer, err = decodeString(raw); return },
		"netmask":   func(raw json.RawMessage) (err error) { mask, err = decodeFlex(raw); return },
		"gateway":   func(raw json.RawMessage) (err error) { gw, err = decodeString(raw); return },
	}
	if err := decodeObject(data, "", fields, nil); err != nil {
		return s, err
	}
	if strings.TrimSpace(ipServer) == "" {
		return s, errkind.Invalid("ip_server", "is required: the hub's address reached through hw_int")
	}
	a, err := netip.ParseAddr(strings.TrimSpace(ipServer))
	if err != nil || !a.Is4() {
		return s, errkind.Invalid("ip_server", "%q is not an IPv4 address", ipServer)
	}
	s.IPServer = a
	s.Netmask = 24
	if mask != "" {
		if s.Netmask, err = parseMask("netmask", mask); err != nil {
			return s, err
		}
	}
	if gw != "" {
		g, err := netip.ParseAddr(strings.TrimSpace(gw))
		if err != nil || !g.Is4() {
			return s, errkind.Invalid("gateway", "%q is not an IPv4 address", gw)
		}
		s.Gateway = g
	}
	return s, s.check()
}

// check validates one slave; errors name its fields.
func (s Slave) check() error {
	if err := CheckIfName("hw_int", s.HWInt); err != nil {
		return err
	}
	if !unicast4(s.IPServer) {
		return errkind.Invalid("ip_server", "%s is not a unicast IPv4 address", s.IPServer)
	}
	if s.Netmask < 1 || s.Netmask > 32 {
		return errkind.Invalid("netmask", "prefix length %d is out of range 1..32", s.Netmask)
	}
	if p := netip.PrefixFrom(s.IPServer, s.Netmask); s.Netmask <= 30 && !s.Gateway.IsValid() &&
		(s.IPServer == p.Masked().Addr() || isBroadcast(p)) {
		return errkind.Invalid("ip_server", "%s is the network or broadcast address of %s", s.IPServer, p.Masked())
	}
	if s.Gateway.IsValid() {
		if !unicast4(s.Gateway) {
			return errkind.Invalid("gateway", "%s is not a unicast IPv4 address", s.Gateway)
		}
		if s.Gateway == s.IPServer {
			return errkind.Invalid("gateway", "%s is ip_server itself; leave gateway out for an on-link hub", s.Gateway)
		}
	}
	return nil
}

// Check validates a client as a whole, decoded or built in code.
func (c Client) Check() error {
	if err := checkURL("server_api_url", c.ServerAPIURL); err != nil {
		return err
	}
	for i := 0; i < len(c.ServerToken); i++ {
		if b := c.ServerToken[i]; b <= ' ' || b > '~' {
			return errkind.Invalid("server_token", "has a character at byte %d that cannot go in an HTTP header (printable ASCII, no spaces)", i)
		}
	}
	if c.ServerBridge != "" {
		if err := CheckIfName("server_bridge", c.ServerBridge); err != nil {
			return err
		}
	}
	if err := checkPin(c.ServerAPIURL, c.ServerAPIPin); err != nil {
		return err
	}
	if err := CheckIfName("bond", c.Bond); err != nil {
		return err
	}
	bond := c.Field("")
	if err := checkHostPrefix(join(bond, "ip_address"), c.Address); err != nil {
		return err
	}
	if len(c.Slaves) < 1 || len(c.Slaves) > MaxSlaves {
		return errkind.Invalid(join(bond, "slaves"), "needs 1..%d entries, got %d", MaxSlaves, len(c.Slaves))
	}
	seen := map[string]bool{}
	for i, s := range c.Slaves {
		path := c.SlaveField(i, "")
		if err := s.check(); err != nil {
			return prefix(path, err)
		}
		switch {
		case seen[s.HWInt]:
			return errkind.Invalid(join(path, "hw_int"), "%q is used by two slaves", s.HWInt)
		case s.HWInt == c.Bond:
			return errkind.Invalid(join(path, "hw_int"), "%q is the bond itself", s.HWInt)
		case c.Address.Masked().Contains(s.IPServer):
			// The tunnels would be routed into the bond they make up.
			return errkind.Invalid(join(path, "ip_server"), "%s is inside the bond's own network %s; the hub must be reached outside it", s.IPServer, c.Address.Masked())
		}
		seen[s.HWInt] = true
	}
	if c.TapPrefix == "" {
		return errkind.Invalid(join(bond, "tap_prefix"), "is empty")
	}
	if err := CheckDriver(join(bond, "driver"), c.Driver); err != nil {
		return err
	}
	taps := c.Taps()
	for _, t := range taps {
		if err := CheckIfName(join(bond, "tap_prefix"), t); err != nil {
			return err
		}
		if t == c.Bond || seen[t] {
			return errkind.Invalid(join(bond, "tap_prefix"), "TAP name %q clashes with the bond or a hw_int", t)
		}
	}
	// Without arp_ip_target, the start takes the hub bridge's address.
	if err := c.Bonding.check(taps, false); err != nil {
		return prefix(join(bond, "bonding"), err)
	}
	for i, a := range c.Bonding.ArpIPTarget {
		if a == c.Address.Addr() {
			return errkind.Invalid(join(bond, "bonding.arp_ip_target"+index(i)), "%s is the bond's own address; give the hub bridge's", a)
		}
	}
	return nil
}

// checkURL validates the hub's API base URL: http or https, a host, a port
// in range if given, no query or fragment (paths are appended to it).
func checkURL(field, s string) error {
	if s == "" {
		return errkind.Invalid(field, "is required: the hub's API, e.g. https://192.0.2.1:3333 (with server_api_pin)")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return errkind.Invalid(field, "%q is not an http:// or https:// URL with a host", RedactURL(s))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errkind.Invalid(field, "port %q is out of range 1..65535", p)
		}
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || strings.Contains(s, "#") {
		return errkind.Invalid(field, "%q has a query or fragment; give the API's base URL only", RedactURL(s))
	}
	return nil
}

// Field is the path of key in the client's bond as decoding and Check
// name it in errors: bond.<bond>.<key>.
func (c Client) Field(key string) string { return join(join("bond", c.Bond), key) }

// SlaveField is the path of key in slave i: bond.<bond>.slaves[i].<key>
// (the slave itself for key "").
func (c Client) SlaveField(i int, key string) string {
	return join(c.Field(join("slaves", index(i))), key)
}

// Taps returns the TAP names in slave order.
func (c Client) Taps() []string { return tapNames(c.TapPrefix, len(c.Slaves)) }

// clientJSON is the wire form of Client, as the spec writes it.
type clientJSON struct {
	ServerAPIURL string                  `json:"server_api_url"`
	ServerToken  string                  `json:"server_token,omitempty"`
	ServerBridge string                  `json:"server_bridge,omitempty"`
	ServerAPIPin string                  `json:"server_api_pin,omitempty"`
	Bond         map[string]bondBodyJSON `json:"bond"`
}

type bondBodyJSON struct {
	IPAddress string      `json:"ip_address"`
	Slaves    []slaveJSON `json:"slaves"`
	Bonding   BondParams  `json:"bonding"`
	TapPrefix string      `json:"tap_prefix,omitempty"`
	Driver    string      `json:"driver,omitempty"`
}

type slaveJSON struct {
	HWInt    string `json:"hw_int"`
	IPServer string `json:"ip_server"`
	Netmask  string `json:"netmask"`
	Gateway  string `json:"gateway,omitempty"`
}

// MarshalJSON writes the spec's shape, which UnmarshalJSON reads back.
func (c Client) MarshalJSON() ([]byte, error) {
	b := bondBodyJSON{IPAddress: c.Address.String(), Bonding: c.Bonding, TapPrefix: c.TapPrefix, Driver: c.Driver}
	for _, s := range c.Slaves {
		sj := slaveJSON{HWInt: s.HWInt, IPServer: s.IPServer.String(), Netmask: itoa(s.Netmask)}
		if s.Gateway.IsValid() {
			sj.Gateway = s.Gateway.String()
		}
		b.Slaves = append(b.Slaves, sj)
	}
	return json.Marshal(clientJSON{
		ServerAPIURL: c.ServerAPIURL, ServerToken: c.ServerToken, ServerBridge: c.ServerBridge, ServerAPIPin: c.ServerAPIPin,
		Bond: map[string]bondBodyJSON{c.Bond: b},
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
