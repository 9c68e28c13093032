package deploytest

import "testing"

// hookMountDir is where the charts mount hookSecret, as their values.yaml
// says: beside the config volume's /etc/multilink, not in it.
const hookMountDir = "/etc/multilink-hooks"

// checkHookSecret checks the hooks' Secret is mounted whole and read-only
// at hookMountDir exactly when hookSecret names one.
func checkHookSecret(t *testing.T, c container, pod podSpec, v values) {
	secret := v.str("hookSecret")
	vol, mounted := mountsByPath(c, pod)[hookMountDir]
	if secret == "" {
		if mounted {
			t.Errorf("%s mounted without hookSecret: %+v", hookMountDir, vol)
		}
		return
	}
	if vol.Secret == nil || vol.Secret.SecretName != secret || len(vol.Secret.Items) > 0 {
		t.Errorf("%s: want Secret %s (hookSecret) mounted whole, got %+v", hookMountDir, secret, vol)
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath == hookMountDir && !m.ReadOnly {
			t.Errorf("%s: the hooks' Secret's mount is not read-only", hookMountDir)
		}
	}
}
