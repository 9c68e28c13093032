package deploytest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// checkPurgeJob checks the data plane's values: --keep-dataplane=kernel on
// the daemon exactly when dataplane.keep is true, and then, with
// dataplane.purgeOnUninstall, one Job, a post-delete hook, that runs
// multilink purge on the daemon's state dir from the host's network, on
// the daemon's nodes, waiting for the daemon's exit; no other Job ever.
func checkPurgeJob(t *testing.T, r rendered, pod podSpec, v values) {
	t.Helper()
	keep := v.get("dataplane.keep") == true
	args := pod.Containers[0].Args
	if got := slices.Contains(args, "--keep-dataplane=kernel"); got != keep {
		t.Errorf("--keep-dataplane=kernel given: %t, dataplane.keep: %t", got, keep)
	}
	want := keep && v.get("dataplane.purgeOnUninstall") == true
	if !want {
		if len(r["Job"]) > 0 {
			t.Errorf("renders a Job without dataplane.keep and purgeOnUninstall")
		}
		return
	}
	var job struct {
		Template struct {
			Spec struct {
				podSpec
				RestartPolicy string          `json:"restartPolicy"`
				Affinity      json.RawMessage `json:"affinity"`
				Tolerations   json.RawMessage `json:"tolerations"`
			} `json:"spec"`
		} `json:"template"`
	}
	o := onlySpec(t, r, "Job", &job)
	if o.Metadata.Annotations["helm.sh/hook"] != "post-delete" {
		t.Errorf("purge Job annotations %v: want a post-delete hook", o.Metadata.Annotations)
	}
	js := job.Template.Spec
	if !js.HostNetwork || js.HostPID || js.RestartPolicy != "Never" {
		t.Errorf("purge Job: hostNetwork %t, hostPID %t, restartPolicy %q", js.HostNetwork, js.HostPID, js.RestartPolicy)
	}
	if !reflect.DeepEqual(js.NodeSelector, pod.NodeSelector) {
		t.Errorf("purge Job nodeSelector %v, the daemon's %v: it must run where the daemon ran", js.NodeSelector, pod.NodeSelector)
	}
	if len(js.Containers) != 1 {
		t.Fatalf("purge Job: %d containers", len(js.Containers))
	}
	c := js.Containers[0]
	grace := v.num(t, "terminationGracePeriodSeconds")
	wantArgs := []string{"purge", "--state-dir=/var/lib/multilink", fmt.Sprintf("--wait=%ds", grace+30)}
	if !slices.Equal(c.Command, []string{"multilink"}) {
		t.Errorf("purge Job command %q: want multilink (the image's entrypoint is multilink daemon)", c.Command)
	}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("purge Job args %q, want %q", c.Args, wantArgs)
	}
	if c.SecurityContext == nil || c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
		t.Errorf("purge Job container is privileged or has no security context")
	}
	state := ""
	for _, vol := range js.Volumes {
		if vol.Name == "state" && vol.HostPath != nil {
			state = vol.HostPath.Path
		}
	}
	if state != v.str("state.hostPath") {
		t.Errorf("purge Job state volume %q, want the daemon's hostPath %q", state, v.str("state.hostPath"))
	}
}
