package deploytest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkRefused renders each chart with values it must refuse: the schema
// and the templates' own checks have to say no, naming the culprit.
func checkRefused(t *testing.T, h helm) {
	for _, c := range []struct {
		chart, values, want string
	}{
		{"multilink-server", `serverConfig: {links: two}`, "links"},
		{"multilink-server", `serverConfig: {links: 17}`, "links"},
		{"multilink-server", `serverConfig: {tunnel_mode: psk}`, "tunnel_mode"},
		{"multilink-server", `serverConfig: {bridge_ip: "10.8.0"}`, "bridge_ip"},
		{"multilink-server", `serverConfig: {bridge_interface: "br0;reboot"}`, "bridge_interface"},
		{"multilink-server", `serverConfig: {bride_interface: br0}`, "bride_interface"},
		{"multilink-server", `api: {service: {ports: {api: {containerPort: 4444}}}}`, "containerPort (4444) must equal"},
		{"multilink-server", `api: {envVars: {apiMultilinkServerPort: 4444}}`, "must equal api.envVars.apiMultilinkServerPort (4444)"},
		{"multilink-server", `token: {value: short}`, "token"},
		{"multilink-server", `dashboard: {enabled: true, labels: {grafana_dashboard: 1}}`, "grafana_dashboard"},
		{"multilink-server", `dashboard: {enabled: true, namespace: Monitoring}`, "namespace"},
		{"multilink-server", `dashboard: {enabeld: true}`, "enabeld"},
		{"multilink-server", `serviceMonitor: {enabled: true, interval: 30}`, "interval"},
		{"multilink-client", `serviceMonitor: {enabled: true, interval: 15sec}`, "interval"},
		{"multilink-client", `serviceMonitor: {enabled: true, interval: 10s, scrapeTimeout: 15s}`, "scrapeTimeout (15s) must not exceed serviceMonitor.interval (10s)"},
		{"multilink-client", `serviceMonitor: {enabled: true, interval: 1m, scrapeTimeout: 1m500ms}`, "must not exceed"},
		{"multilink-client", `serviceMonitor: {enabled: true, labels: {release: true}}`, "release"},
		{"multilink-server", `podMonitor: {enabled: true}
serviceMonitor: {enabled: true}`, "serviceMonitor.enabled and podMonitor.enabled are both true"},
		{"multilink-client", `podMonitor: {enabled: true, interval: 10s, scrapeTimeout: 15s}`, "podMonitor.scrapeTimeout (15s) must not exceed podMonitor.interval (10s)"},
		{"multilink-client", `podMonitor: {enabled: true, tlsConfig: insecure}`, "tlsConfig"},
		{"multilink-client", `state: {hostPath: ""}`, "dataplane.keep needs state.hostPath"},
		{"multilink-server", `dataplane: {keep: "yes"}`, "keep"},
		{"multilink-server", `dataplane: {purge: true}`, "purge"},
		{"multilink-client", `prometheusRule: {enabled: true, backupFor: 10}`, "backupFor"},
		{"multilink-client", `prometheusRule: {enabled: true, flapSwitches: 0}`, "flapSwitches"},
		{"multilink-client", `prometheusRule: {enabled: true, peerSilentFor: 10m}`, "peerSilentFor"},
		{"multilink-server", `prometheusRule: {enabled: true, peerSilentFor: 10 minutes}`, "peerSilentFor"},
		{"multilink-server", `prometheusRule: {enabled: true, alertLabels: {page: true}}`, "page"},
		{"multilink-server", `fleetDashboard: {enabled: true, labels: {grafana_dashboard: 1}}`, "grafana_dashboard"},
		{"multilink-server", `replicaCount: 2`, "replicaCount"},
		{"multilink-server", `api: {insecurePlainHttp: "yes"}`, "insecurePlainHttp"},
		{"multilink-client", `api: {insecurePlainHttp: 1}`, "insecurePlainHttp"},
		{"multilink-server", `api: {insecure_plain_http: true}`, "insecure_plain_http"},
		{"multilink-client", `api: {tls: {existingSecret: "API TLS"}}`, "existingSecret"},
		{"multilink-server", `api: {tls: {secretName: api-tls}}`, "secretName"},
		{"multilink-server", `serviceMonitor: {enabled: true, tlsConfig: insecure}`, "tlsConfig"},
		{"multilink-client", `clientConfig: {slaves: [{ip_server: 192.0.2.1}]}`, "hw_int"},
		{"multilink-client", `clientConfig: {slaves: []}`, "slaves"},
		{"multilink-client", `clientConfig: {bonding_mode: "7"}`, "bonding_mode"},
		{"multilink-client", `clientConfig: {arp_validate: filter-active}`, "arp_validate"},
		{"multilink-client", `clientConfig: {serverApiUrl: "158.42.89.111:3333"}`, "serverApiUrl"},
		{"multilink-client", `clientConfig: {extraBonding: {bonding_mode: 1}}`, "bonding_mode"},
		{"multilink-client", `clientConfig: {serverApiUrl: "https://192.0.2.1:3333", serverApiPin: ""}`, "clientConfig.serverApiPin is required with an https://"},
		{"multilink-client", `clientConfig: {serverApiUrl: "http://192.0.2.1:3333", serverApiPin: "sha256//+AKmItTfD3g3mGVSkdpaOQLJiOJF32xPAhVe2zfeel8="}`, "serverApiPin applies to an https://"},
		{"multilink-client", `clientConfig: {serverToken: "has space in it, 16+"}`, "serverToken"},
		{"multilink-client", `api: {envVars: {MULTILINK_API_TOKEN: x}}`, "MULTILINK_API_TOKEN"},
	} {
		t.Run(c.chart+"/"+c.values, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "bad.yaml")
			if err := os.WriteFile(file, []byte(c.values+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := h.template("bad", filepath.Join(repoRoot, "charts", c.chart), file)
			if err == nil {
				t.Fatalf("rendered with %s", c.values)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("refused, but the error does not name %q:\n%v", c.want, err)
			}
		})
	}
}
