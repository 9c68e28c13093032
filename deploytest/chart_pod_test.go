package deploytest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// wantCaps are the capabilities the daemon gets, in order, after drop ALL.
var wantCaps = []string{"NET_ADMIN", "NET_RAW", "BPF", "PERFMON"}

// tlsMountDir is where the chart mounts api.tls.existingSecret, as its
// values.yaml says: beside the config volume's /etc/multilink, not in it.
const tlsMountDir = "/etc/multilink-tls"

// checkRendered checks the objects one chart rendered with values v, and
// returns the daemon's flags as given.
func checkRendered(t *testing.T, r rendered, v values, flags map[string]daemonFlag, portKey string) map[string]string {
	for _, kind := range []string{"CronJob", "Pod", "DaemonSet", "StatefulSet"} {
		if len(r[kind]) > 0 {
			t.Errorf("renders a %s; the daemon applies its config itself (no Job calling the API)", kind)
		}
	}
	var spec deploymentSpec
	onlySpec(t, r, "Deployment", &spec)
	checkPurgeJob(t, r, spec.Template.Spec, v)
	if spec.Replicas != 1 || spec.Strategy.Type != "Recreate" {
		t.Errorf("replicas %d, strategy %q: want 1 and Recreate (one daemon per host, never two at once)", spec.Replicas, spec.Strategy.Type)
	}
	pod := spec.Template.Spec
	if !pod.HostNetwork || pod.HostPID {
		t.Errorf("hostNetwork %t, hostPID %t: want the host's network and nothing more", pod.HostNetwork, pod.HostPID)
	}
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		if sc := c.SecurityContext; sc != nil && sc.Privileged != nil && *sc.Privileged {
			t.Errorf("container %s is privileged", c.Name)
		}
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	checkSecurity(t, c, v)
	port, given := checkArgsAndPorts(t, c, pod, flags, v, portKey)
	checkTLS(t, c, pod, given, v)
	checkHookSecret(t, c, pod, v)
	checkMountsApart(t, c)
	checkToken(t, c, r, v)
	checkEnv(t, c, v)
	checkService(t, r, v, port)
	checkConfigFile(t, r, pod, c, given["config"], v)

	if img := c.Image; !strings.HasPrefix(img, v.str("image.repository")+":") || !strings.HasSuffix(img, v.str("image.digest")) {
		t.Errorf("image %q: want %s:<tag>[@%s]", img, v.str("image.repository"), v.str("image.digest"))
	}
	for _, name := range []string{"checksum/config", "checksum/token"} {
		if spec.Template.Metadata.Annotations[name] == "" {
			t.Errorf("pod annotation %s missing: a changed config or token would not restart the daemon", name)
		}
	}
	sm := len(r["ServiceMonitor"]) == 1
	if want := v.get("serviceMonitor.enabled") == true; sm != want {
		t.Errorf("ServiceMonitor rendered: %t, serviceMonitor.enabled: %t", sm, want)
	}
	return given
}

// checkTLS checks the API's TLS flags against the values: --tls-cert and
// --tls-key exactly when api.tls.existingSecret names a Secret, pointing at
// its tls.crt and tls.key in a read-only mount of that Secret, and
// --insecure-plain-http exactly when api.insecurePlainHttp is true.
func checkTLS(t *testing.T, c container, pod podSpec, given map[string]string, v values) {
	_, plain := given["insecure-plain-http"]
	if want := v.get("api.insecurePlainHttp") == true; plain != want || plain && given["insecure-plain-http"] != "true" {
		t.Errorf("--insecure-plain-http given: %t (%q), want it exactly when api.insecurePlainHttp is true (%t)", plain, given["insecure-plain-http"], want)
	}
	secret := v.str("api.tls.existingSecret")
	cert, hasCert := given["tls-cert"]
	key, hasKey := given["tls-key"]
	if secret == "" {
		if hasCert || hasKey {
			t.Errorf("--tls-cert %q, --tls-key %q without api.tls.existingSecret: the daemon's self-signed certificate is meant", cert, key)
		}
		for _, vol := range pod.Volumes {
			if vol.Name == "tls" {
				t.Errorf("volume tls without api.tls.existingSecret: %+v", vol)
			}
		}
		return
	}
	if cert != tlsMountDir+"/tls.crt" || key != tlsMountDir+"/tls.key" {
		t.Errorf("--tls-cert %q, --tls-key %q: want %s/tls.crt and %s/tls.key, the kubernetes.io/tls Secret's keys", cert, key, tlsMountDir, tlsMountDir)
	}
	vol := mountsByPath(c, pod)[tlsMountDir]
	if vol.Secret == nil || vol.Secret.SecretName != secret || len(vol.Secret.Items) > 0 {
		t.Errorf("%s: want Secret %s (api.tls.existingSecret) mounted whole, got %+v", tlsMountDir, secret, vol)
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath == tlsMountDir && !m.ReadOnly {
			t.Errorf("%s: the TLS Secret's mount is not read-only", tlsMountDir)
		}
	}
}

// checkMountsApart checks no mount path is another's or inside another:
// the runtime cannot make a mount point inside a read-only volume (the
// config at /etc/multilink, say).
func checkMountsApart(t *testing.T, c container) {
	for i, a := range c.VolumeMounts {
		for _, b := range c.VolumeMounts[i+1:] {
			pa, pb := strings.TrimSuffix(a.MountPath, "/")+"/", strings.TrimSuffix(b.MountPath, "/")+"/"
			if strings.HasPrefix(pa, pb) || strings.HasPrefix(pb, pa) {
				t.Errorf("mounts %s (%s) and %s (%s) overlap", a.MountPath, a.Name, b.MountPath, b.Name)
			}
		}
	}
}

// checkSecurity checks the container's security context: not privileged,
// no escalation, read-only root, drop ALL then exactly the needed adds.
func checkSecurity(t *testing.T, c container, v values) {
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("no securityContext.capabilities")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("capabilities.drop = %q, want [ALL]", sc.Capabilities.Drop)
	}
	want := slices.Clone(wantCaps)
	if v.get("security.sysAdminForOldKernels") == true {
		want = append(want, "SYS_ADMIN")
	}
	if !slices.Equal(sc.Capabilities.Add, want) {
		t.Errorf("capabilities.add = %q, want %q", sc.Capabilities.Add, want)
	}
}

// checkArgsAndPorts checks the daemon's arguments against its --help and
// the values, the volumes they point into, and that the container port,
// the probes and --listen agree on one port. It returns the port and the
// flags given.
func checkArgsAndPorts(t *testing.T, c container, pod podSpec, flags map[string]daemonFlag, v values, portKey string) (int, map[string]string) {
	given, err := checkArgs(flags, c.Args)
	if err != nil {
		t.Fatalf("container args %q: %v", c.Args, err)
	}
	want := v.num(t, "api.envVars."+portKey)
	if p := listenPort(flags, given); p != strconv.Itoa(want) {
		t.Errorf("--listen port %s, want api.envVars.%s %d", p, portKey, want)
	}
	if host := given["listen"][:strings.LastIndex(given["listen"], ":")]; host != v.str("api.listenAddress") {
		t.Errorf("--listen host %q, want api.listenAddress %q", host, v.str("api.listenAddress"))
	}
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["api"] != want {
		t.Errorf("containerPort api = %d, want %d", ports["api"], want)
	}
	for name, p := range map[string]*probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want httpGet /health, got none", name)
			continue
		}
		if p.HTTPGet.Path != "/health" {
			t.Errorf("%s probe: want httpGet /health, got path %q", name, p.HTTPGet.Path)
		}
		// The API answers plain HTTP only to loopback (unless
		// --insecure-plain-http), and the kubelet probes the node's address.
		if p.HTTPGet.Scheme != "HTTPS" {
			t.Errorf("%s probe: scheme %q, want HTTPS (the API speaks TLS; plain HTTP only from loopback)", name, p.HTTPGet.Scheme)
		}
		got := ports[fmt.Sprint(p.HTTPGet.Port)]
		if n, ok := p.HTTPGet.Port.(float64); ok {
			got = int(n)
		}
		if got != want {
			t.Errorf("%s probe asks port %v, the daemon listens on %d", name, p.HTTPGet.Port, want)
		}
	}
	mounts := mountsByPath(c, pod)
	hostPaths := map[string]string{"/dev/net/tun": "CharDevice", "/sys/fs/bpf": "Directory"}
	for at, typ := range hostPaths {
		if vol := mounts[at]; vol.HostPath == nil || vol.HostPath.Path != at || vol.HostPath.Type != typ {
			t.Errorf("%s: want hostPath %s (%s) mounted there, got %+v", at, at, typ, vol)
		}
	}
	state := mounts[given["state-dir"]]
	if hp := v.str("state.hostPath"); hp != "" {
		if state.HostPath == nil || state.HostPath.Path != hp || state.HostPath.Type != "DirectoryOrCreate" {
			t.Errorf("--state-dir %s: want hostPath %s (DirectoryOrCreate) mounted there, got %+v", given["state-dir"], hp, state)
		}
	} else if state.EmptyDir == nil {
		t.Errorf("--state-dir %s: state.hostPath is empty, want an emptyDir there, got %+v", given["state-dir"], state)
	}
	return want, given
}

// mountsByPath maps each mount path of c to its volume.
func mountsByPath(c container, pod podSpec) map[string]volume {
	vols := map[string]volume{}
	for _, vol := range pod.Volumes {
		vols[vol.Name] = vol
	}
	out := map[string]volume{}
	for _, m := range c.VolumeMounts {
		out[m.MountPath] = vols[m.Name]
	}
	return out
}

// checkToken checks MULTILINK_API_TOKEN comes from the Secret the values name.
func checkToken(t *testing.T, c container, r rendered, v values) {
	var name, key string
	for _, e := range c.Env {
		if e.Name == "MULTILINK_API_TOKEN" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			name, key = e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key
		}
	}
	if existing := v.str("token.existingSecret"); existing != "" {
		_, made := r["Secret"][existing]
		if name != existing || key != v.str("token.existingSecretKey") || made {
			t.Errorf("token: want secretKeyRef %s/%s and no such Secret rendered, got %s/%s", existing, v.str("token.existingSecretKey"), name, key)
		}
		return
	}
	sec, ok := r["Secret"][name]
	if !ok || name == "" {
		t.Fatalf("MULTILINK_API_TOKEN: from Secret %q, which is not rendered", name)
	}
	tok, err := base64.StdEncoding.DecodeString(sec.Data[key])
	if err != nil || len(tok) < 16 {
		t.Errorf("Secret %s key %s: want a token of 16+ characters, got %q (%v)", name, key, tok, err)
	}
	if want := v.str("token.value"); want != "" && string(tok) != want {
		t.Errorf("Secret %s holds %q, want token.value %q", name, tok, want)
	}
}

// checkEnv checks the spec's api.envVars, other than the port, reach the
// container's environment, as in the original chart.
func checkEnv(t *testing.T, c container, v values) {
	for k, val := range v.get("api.envVars").(map[string]any) {
		if strings.HasPrefix(k, "apiMultilink") {
			continue
		}
		if !slices.ContainsFunc(c.Env, func(e envVar) bool { return e.Name == k && e.Value == fmt.Sprint(val) }) {
			t.Errorf("api.envVars.%s: not in the container's environment", k)
		}
	}
}

// checkService checks the Service's ports against the spec's values.
func checkService(t *testing.T, r rendered, v values, port int) {
	svc, err := r.only("Service")
	if err != nil {
		t.Fatal(err)
	}
	var spec serviceSpec
	if err := json.Unmarshal(svc.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	p := "api.service.ports.api."
	if spec.Type != v.str("api.service.type") || len(spec.Ports) != 1 {
		t.Fatalf("Service: type %q with %d ports, want %s with one", spec.Type, len(spec.Ports), v.str("api.service.type"))
	}
	sp := spec.Ports[0]
	if sp.Port != v.num(t, p+"port") || fmt.Sprint(sp.TargetPort) != strconv.Itoa(port) {
		t.Errorf("Service port %d -> %v, want %s -> %d", sp.Port, sp.TargetPort, v.str(p+"port"), port)
	}
	if np := v.str(p + "nodePort"); np != "" && strconv.Itoa(sp.NodePort) != np {
		t.Errorf("Service nodePort %d, want %s", sp.NodePort, np)
	}
}
