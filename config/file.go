package config

import (
	"encoding/json"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
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
type File struct {
	Servers []Server `json:"servers,omitempty"`
	Clients []Client `json:"clients,omitempty"`
}

// ParseFile decodes a config file's bytes (YAML is converted to JSON first,
// so both go through the API's decoders and validation).
func ParseFile(data []byte) (File, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return File{}, fmt.Errorf("parse yaml: %w", err)
	}
	var f File
	if string(js) == "null" {
		return f, nil
	}
	fields := map[string]field{
		"servers": func(raw json.RawMessage) error { return json.Unmarshal(raw, &f.Servers) },
		"clients": func(raw json.RawMessage) error { return json.Unmarshal(raw, &f.Clients) },
		"server": func(raw json.RawMessage) error {
			var s Server
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			f.Servers = append(f.Servers, s)
			return nil
		},
		"client": func(raw json.RawMessage) error {
			var c Client
			if err := json.Unmarshal(raw, &c); err != nil {
				return err
			}
			f.Clients = append(f.Clients, c)
			return nil
		},
	}
	if err := decodeObject(js, "", fields, nil); err != nil {
		return File{}, err
	}
	return f, nil
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
