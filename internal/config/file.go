package config

import (
	"encoding/json"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// File is the daemon's --config file: servers and clients to start at boot,
// each in the same shape as its API body. YAML or JSON.
//
//	server:            # or servers: [ ... ]
//	  bridge_interface: br0
//	  bridge_ip: 10.8.0.254
//	  links: 2
//	client:            # or clients: [ ... ]
//	  server_api_url: http://192.0.2.1:3333
//	  bond: {bond0: {ip_address: 10.8.0.253, slaves: [...], bonding: {...}}}
//	probe:             # optional: probe intervals (ms) and tc attach mode
//	  {interval_ms: 20, backup_interval_ms: 5000, attach: tcx}
//	policy:            # optional: failover thresholds, as PUT /v1/client/policy's "policy"
//	  {hold_down_ms: 2000, loss_degraded: 0.1}
//	hooks:             # optional: programs and webhooks told of each event (Hook)
//	  - {exec: [/usr/local/bin/on-switch], events: [switch]}
type File struct {
	Servers []api.Server `json:"servers,omitempty"`
	Clients []api.Client `json:"clients,omitempty"`
	// Probe and Policy are the file's probe: and policy: sections as JSON,
	// for the daemon to decode and validate (probe intervals, failover
	// thresholds); nil when absent. They are settings, not desired state.
	Probe  json.RawMessage `json:"-"`
	Policy json.RawMessage `json:"-"`
	// Hooks are the hooks: section, checked and named.
	Hooks []Hook `json:"-"`
}

// ParseFile decodes a config file's bytes (YAML is converted to JSON first,
// so both go through the API's decoders and validation), then checks the
// entries against each other. Errors are errkind.KindInvalid and name the
// path of the bad value ("clients[1].bond.bond0.slaves[0].hw_int").
func ParseFile(data []byte) (File, error) {
	js, err := yaml.YAMLToJSONStrict(data) // strict: a key given twice is an error
	if err != nil {
		return File{}, &errkind.Error{Kind: errkind.KindInvalid, Msg: "parse yaml", Err: err}
	}
	var f File
	if string(js) == "null" {
		return f, nil
	}
	list := func(raw json.RawMessage, add func(json.RawMessage) error) error {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil || items == nil {
			return errkind.Invalid("", "must be a list")
		}
		for i, item := range items {
			if err := add(item); err != nil {
				return api.Prefix(api.Index(i), err)
			}
		}
		return nil
	}
	addServer := func(raw json.RawMessage) error {
		var s api.Server
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		f.Servers = append(f.Servers, s)
		return nil
	}
	addClient := func(raw json.RawMessage) error {
		var c api.Client
		if err := json.Unmarshal(raw, &c); err != nil {
			return err
		}
		f.Clients = append(f.Clients, c)
		return nil
	}
	// Keys are decoded in sorted order: client before clients, server
	// before servers, which is the order the entries get.
	fields := map[string]func(json.RawMessage) error{
		"server":  addServer,
		"servers": func(raw json.RawMessage) error { return list(raw, addServer) },
		"client":  addClient,
		"clients": func(raw json.RawMessage) error { return list(raw, addClient) },
		"probe":   func(raw json.RawMessage) error { f.Probe = raw; return nil },
		"policy":  func(raw json.RawMessage) error { f.Policy = raw; return nil },
		"hooks": func(raw json.RawMessage) (err error) {
			f.Hooks, err = parseHooks(raw)
			return err
		},
	}
	if err := api.DecodeObject(js, fields); err != nil {
		return File{}, err
	}
	if err := f.Check(); err != nil {
		return File{}, err
	}
	return f, nil
}

// Check validates every entry and the entries together: each interface
// the file makes (bridges, bonds, TAPs) is named once, and the servers'
// UDP port ranges do not overlap. Errors name entries by their index in
// Servers and Clients.
func (f File) Check() error {
	owner := map[string]string{} // interface name -> the entry that makes it
	claim := func(name, path string) error {
		if prev, ok := owner[name]; ok {
			return errkind.Invalid(path, "interface %q is also made by %s", name, prev)
		}
		owner[name] = path
		return nil
	}
	for i, s := range f.Servers {
		path := "servers" + api.Index(i)
		if err := s.Check(); err != nil {
			return api.Prefix(path, err)
		}
		if err := claim(s.BridgeInterface, api.Path(path, "bridge_interface")); err != nil {
			return err
		}
		for _, t := range s.Taps() {
			if err := claim(t, api.Path(path, "tap_prefix")); err != nil {
				return err
			}
		}
		for j, o := range f.Servers[:i] {
			if s.Port(1) <= o.Port(o.Links) && s.Port(s.Links) >= o.Port(1) {
				return errkind.Invalid(api.Path(path, "port_base"), "ports %d-%d overlap servers%s's %d-%d",
					s.Port(1), s.Port(s.Links), api.Index(j), o.Port(1), o.Port(o.Links))
			}
		}
	}
	for i, c := range f.Clients {
		path := "clients" + api.Index(i)
		if err := c.Check(); err != nil {
			return api.Prefix(path, err)
		}
		if err := claim(c.Bond, api.Path(path, "bond")); err != nil {
			return err
		}
		for _, t := range c.Taps() {
			if err := claim(t, api.Path(path, api.Path("bond", c.Bond)+".tap_prefix")); err != nil {
				return err
			}
		}
	}
	return nil
}

// LoadFile reads and parses the config file at path.
func LoadFile(path string) (File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("read config %s: %w", path, err)
	}
	f, err := ParseFile(data)
	if err != nil {
		return File{}, fmt.Errorf("config %s: %w", path, err)
	}
	return f, nil
}
