package deploytest

import (
	"encoding/base64"
	"encoding/json"
	"path"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/config"
)

// checkConfigFile finds the file --config names in the volume mounted
// there, checks probe and policy went in verbatim (or not at all while
// empty), and parses the rest with the daemon's own config.ParseFile: it
// must hold exactly the server or client the spec's values describe.
func checkConfigFile(t *testing.T, r rendered, pod podSpec, c container, file string, v values) {
	if file == "" {
		t.Fatal("no --config: the daemon would start nothing (and a Job calling the API is what we replace)")
	}
	vol := mountsByPath(c, pod)[path.Dir(file)]
	var data string
	var ok bool
	switch {
	case vol.ConfigMap != nil:
		data, ok = r["ConfigMap"][vol.ConfigMap.Name].Data[path.Base(file)]
	case vol.Secret != nil:
		sec := r["Secret"][vol.Secret.SecretName]
		if data, ok = sec.StringData[path.Base(file)]; !ok {
			raw, err := base64.StdEncoding.DecodeString(sec.Data[path.Base(file)])
			data, ok = string(raw), err == nil && len(raw) > 0
		}
	}
	if !ok {
		t.Fatalf("--config %s: no rendered ConfigMap or Secret holds it (volume %+v)", file, vol)
	}
	secretWanted := v.str("clientConfig.serverToken") != ""
	if (vol.Secret != nil) != secretWanted {
		t.Errorf("config file in a Secret: %t; want it there exactly when it holds clientConfig.serverToken", vol.Secret != nil)
	}

	var doc map[string]any
	if err := yaml.Unmarshal([]byte(data), &doc); err != nil {
		t.Fatalf("config file is not YAML: %v\n%s", err, data)
	}
	for _, key := range []string{"probe", "policy"} {
		want, _ := v.get(key).(map[string]any)
		got, has := doc[key]
		if len(want) == 0 && has || len(want) > 0 && !reflect.DeepEqual(got, any(want)) {
			t.Errorf("config file %s: %v, want values %s %v (left out while empty)", key, got, key, want)
		}
		delete(doc, key) // the daemon does not take them yet
	}
	// hooks go in verbatim and stay: the daemon's parser checks them.
	wantHooks, _ := v.get("hooks").([]any)
	if got, has := doc["hooks"]; len(wantHooks) == 0 && has || len(wantHooks) > 0 && !reflect.DeepEqual(got, any(wantHooks)) {
		t.Errorf("config file hooks %v, want values hooks %v (left out while empty)", got, wantHooks)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.ParseFile(js)
	if err != nil {
		t.Fatalf("the daemon would refuse its config file: %v\n%s", err, data)
	}
	if len(f.Hooks) != len(wantHooks) {
		t.Errorf("the daemon reads %d hooks from its config file, want the values' %d", len(f.Hooks), len(wantHooks))
	}
	if v.get("serverConfig") != nil {
		var want api.Server
		decodeInto(t, serverBody(v), &want)
		if len(f.Clients) != 0 || len(f.Servers) != 1 || !reflect.DeepEqual(f.Servers[0], want) {
			t.Errorf("config file declares %+v, want the server of the values %+v\n%s", f, want, data)
		}
		return
	}
	var want api.Client
	decodeInto(t, clientBody(v), &want)
	if len(f.Servers) != 0 || len(f.Clients) != 1 || !reflect.DeepEqual(f.Clients[0], want) {
		t.Errorf("config file declares %+v, want the client of the values %+v\n%s", f, want, data)
	}
}

// serverBody is the spec's POST /v1/server/start body the serverConfig values mean.
func serverBody(v values) map[string]any {
	body := map[string]any{}
	for _, k := range []string{"bridge_interface", "bridge_ip", "links", "port_base", "tap_prefix", "tunnel_mode"} {
		if x := v.get("serverConfig." + k); x != nil {
			body[k] = x
		}
	}
	return body
}

// clientBody is the spec's POST /v1/client/start body the clientConfig
// values mean: the spec's installation section maps one to the other.
func clientBody(v values) map[string]any {
	bonding := map[string]any{}
	for _, k := range []string{"bonding_mode", "primary", "arp_ip_target", "arp_interval", "fail_over_mac", "arp_validate"} {
		if x := v.get("clientConfig." + k); x != nil {
			bonding[k] = x
		}
	}
	if extra, ok := v.get("clientConfig.extraBonding").(map[string]any); ok {
		for k, x := range extra {
			bonding[k] = x
		}
	}
	body := map[string]any{
		"server_api_url": v.get("clientConfig.serverApiUrl"),
		"bond": map[string]any{v.str("clientConfig.bondInterfaceName"): map[string]any{
			"ip_address": v.get("clientConfig.bondIpAddress"),
			"slaves":     v.get("clientConfig.slaves"),
			"bonding":    bonding,
		}},
	}
	if tok := v.str("clientConfig.serverToken"); tok != "" {
		body["server_token"] = tok
	}
	if br := v.str("clientConfig.serverBridge"); br != "" {
		body["server_bridge"] = br
	}
	if pin := v.str("clientConfig.serverApiPin"); pin != "" {
		body["server_api_pin"] = pin
	}
	return body
}

// decodeInto decodes body through the API's JSON decoder into dst.
func decodeInto(t *testing.T, body map[string]any, dst any) {
	t.Helper()
	js, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, dst); err != nil {
		t.Fatalf("the values themselves are not a valid API body: %v\n%s", err, js)
	}
}
